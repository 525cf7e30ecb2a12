# Knative Serving (CRDs, core) and Kourier from their pinned release manifests, then the settings the platform
# relies on: Kourier as the ingress, scale to zero, and runtimeClassName in Pod specs (gVisor for models on GKE).

locals {
  serving_release = "https://github.com/knative/serving/releases/download/knative-v${var.serving_version}"
  kourier_release = "https://github.com/knative/net-kourier/releases/download/knative-v${var.kourier_version}"
  kourier_class   = "kourier.ingress.networking.knative.dev"
}

data "http" "serving_crds" {
  url = "${local.serving_release}/serving-crds.yaml"

  lifecycle {
    postcondition {
      condition     = self.status_code == 200
      error_message = "Could not download Knative Serving CRDs ${var.serving_version}: is the release number right?"
    }
  }
}

data "http" "serving_core" {
  url = "${local.serving_release}/serving-core.yaml"

  lifecycle {
    postcondition {
      condition     = self.status_code == 200
      error_message = "Could not download Knative Serving core ${var.serving_version}."
    }
  }
}

data "http" "kourier" {
  url = "${local.kourier_release}/kourier.yaml"

  lifecycle {
    postcondition {
      condition     = self.status_code == 200
      error_message = "Could not download net-kourier ${var.kourier_version}."
    }
  }
}

data "kubectl_file_documents" "serving_crds" {
  content = data.http.serving_crds.response_body
}

data "kubectl_file_documents" "serving_core" {
  content = data.http.serving_core.response_body
}

data "kubectl_file_documents" "kourier" {
  content = data.http.kourier.response_body
}

resource "kubectl_manifest" "serving_crds" {
  for_each          = data.kubectl_file_documents.serving_crds.manifests
  yaml_body         = each.value
  server_side_apply = true
  wait              = true
}

resource "kubectl_manifest" "serving_core" {
  for_each          = data.kubectl_file_documents.serving_core.manifests
  yaml_body         = each.value
  server_side_apply = true

  depends_on = [kubectl_manifest.serving_crds]
}

resource "kubectl_manifest" "kourier" {
  for_each          = data.kubectl_file_documents.kourier.manifests
  yaml_body         = each.value
  server_side_apply = true

  depends_on = [kubectl_manifest.serving_core]
}

# On kind the host reaches Kourier through the control plane's port 31080 (see cluster_kind's port mapping).
resource "kubectl_manifest" "kourier_node_port" {
  count             = var.ingress_service_type == "NodePort" ? 1 : 0
  server_side_apply = true
  force_conflicts   = true
  yaml_body = yamlencode({
    apiVersion = "v1"
    kind       = "Service"
    metadata   = { name = "kourier", namespace = "kourier-system" }
    spec = {
      type = "NodePort"
      ports = [{
        name       = "http2"
        port       = 80
        protocol   = "TCP"
        targetPort = 8080
        nodePort   = 31080
      }]
    }
  })

  depends_on = [kubectl_manifest.kourier]
}

resource "kubernetes_config_map_v1_data" "network" {
  metadata {
    name      = "config-network"
    namespace = "knative-serving"
  }
  data = {
    "ingress-class" = local.kourier_class
  }
  force = true

  depends_on = [kubectl_manifest.serving_core]
}

resource "kubernetes_config_map_v1_data" "domain" {
  metadata {
    name      = "config-domain"
    namespace = "knative-serving"
  }
  data = {
    (var.domain) = ""
  }
  force = true

  depends_on = [kubectl_manifest.serving_core]
}

resource "kubernetes_config_map_v1_data" "autoscaler" {
  metadata {
    name      = "config-autoscaler"
    namespace = "knative-serving"
  }
  data = {
    "enable-scale-to-zero"       = "true"
    "scale-to-zero-grace-period" = var.scale_to_zero_grace_period
    "stable-window"              = var.stable_window
  }
  force = true

  depends_on = [kubectl_manifest.serving_core]
}

resource "kubernetes_config_map_v1_data" "features" {
  metadata {
    name      = "config-features"
    namespace = "knative-serving"
  }
  data = {
    "kubernetes.podspec-runtimeclassname" = "enabled"
    "kubernetes.podspec-securitycontext"  = "enabled"
  }
  force = true

  depends_on = [kubectl_manifest.serving_core]
}
