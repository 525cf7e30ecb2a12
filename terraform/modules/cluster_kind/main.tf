# A kind cluster whose nodes pull localhost:<registry_port>/... from a registry container on the kind network
# (https://kind.sigs.k8s.io/docs/user/local-registry/), with the control plane's port 31080 (Kourier) on loopback.

locals {
  registry_host = "localhost:${var.registry_port}"
  kourier_port  = 31080
}

resource "kind_cluster" "this" {
  name            = var.cluster_name
  node_image      = var.node_image
  kubeconfig_path = pathexpand(var.kubeconfig_path)
  wait_for_ready  = true

  kind_config {
    kind        = "Cluster"
    api_version = "kind.x-k8s.io/v1alpha4"

    containerd_config_patches = [
      <<-TOML
      [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${local.registry_host}"]
        endpoint = ["http://${var.registry_name}:5000"]
      TOML
    ]

    node {
      role = "control-plane"

      extra_port_mappings {
        container_port = local.kourier_port
        host_port      = var.ingress_http_port
        listen_address = "127.0.0.1"
      }
    }

    dynamic "node" {
      for_each = range(var.worker_count)
      content {
        role = "worker"
      }
    }
  }
}

resource "docker_image" "registry" {
  name         = var.registry_image
  keep_locally = true
}

# Created after the cluster: kind creates the "kind" Docker network the registry joins.
resource "docker_container" "registry" {
  name    = var.registry_name
  image   = docker_image.registry.image_id
  restart = "always"

  ports {
    internal = 5000
    external = var.registry_port
    ip       = "127.0.0.1"
  }

  networks_advanced {
    name = "kind"
  }

  depends_on = [kind_cluster.this]
}

# Tells tools (Tilt, ko, our deploy CLI's readers) where the cluster's local registry is (KEP-1755).
resource "kubernetes_config_map_v1" "local_registry_hosting" {
  metadata {
    name      = "local-registry-hosting"
    namespace = "kube-public"
  }

  data = {
    "localRegistryHosting.v1" = yamlencode({
      host = local.registry_host
      help = "https://kind.sigs.k8s.io/docs/user/local-registry/"
    })
  }

  depends_on = [kind_cluster.this]
}
