# MinIO on one volume split into four drives: erasure coding is what lets MinIO keep object versions
# (a single-drive MinIO cannot), so the buckets are versioned as on GCS.

locals {
  labels = {
    "app.kubernetes.io/name"    = var.name
    "app.kubernetes.io/part-of" = "medcloudcare"
  }
  endpoint = "http://${var.name}.${var.namespace}.svc.cluster.local:9000"
}

resource "random_password" "root" {
  length  = 40
  special = false
}

resource "kubernetes_secret_v1" "root" {
  metadata {
    name      = "${var.name}-root"
    namespace = var.namespace
    labels    = local.labels
  }

  # Read as a file (MINIO_CONFIG_ENV_FILE), not as environment variables, so the credentials do not show in the
  # Pod's environment.
  data = {
    "config.env" = "export MINIO_ROOT_USER=mcc-admin\nexport MINIO_ROOT_PASSWORD=${random_password.root.result}\n"
  }
}

resource "kubernetes_secret_v1" "storage" {
  metadata {
    name      = var.secret_name
    namespace = var.namespace
  }

  data = merge(
    {
      MCC_STORAGE_BACKEND   = "s3"
      MCC_S3_ENDPOINT_URL   = local.endpoint
      MCC_S3_BUCKET         = "models"
      AWS_ACCESS_KEY_ID     = "mcc-admin"
      AWS_SECRET_ACCESS_KEY = random_password.root.result
    },
    { for b in var.buckets : "MCC_BUCKET_${upper(b)}" => b },
  )
}

resource "kubernetes_persistent_volume_claim_v1" "data" {
  metadata {
    name      = "${var.name}-data"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    access_modes = ["ReadWriteOnce"]
    resources {
      requests = {
        storage = var.storage_size
      }
    }
  }

  wait_until_bound = false
}

resource "kubernetes_service_v1" "this" {
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    selector = local.labels
    port {
      name        = "s3"
      port        = 9000
      target_port = 9000
    }
  }
}

resource "kubernetes_deployment_v1" "this" {
  #checkov:skip=CKV_K8S_43:kind is the development target; the image is pinned to a MinIO release tag.
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    replicas = 1

    strategy {
      type = "Recreate"
    }

    selector {
      match_labels = local.labels
    }

    template {
      metadata {
        labels = local.labels
      }

      spec {
        automount_service_account_token = false

        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          run_as_group    = 1000
          fs_group        = 1000
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "minio"
          image             = var.image
          image_pull_policy = "Always"
          args              = ["server", "/data/drive{1...4}", "--address", ":9000"]

          env {
            name  = "MINIO_CONFIG_ENV_FILE"
            value = "/etc/minio/config.env"
          }

          port {
            container_port = 9000
          }

          resources {
            requests = {
              cpu    = "100m"
              memory = "256Mi"
            }
            limits = {
              cpu    = "1"
              memory = "1Gi"
            }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            run_as_non_root            = true
            capabilities {
              drop = ["ALL"]
            }
          }

          readiness_probe {
            http_get {
              path = "/minio/health/ready"
              port = 9000
            }
            period_seconds = 5
          }

          liveness_probe {
            http_get {
              path = "/minio/health/live"
              port = 9000
            }
            initial_delay_seconds = 10
            period_seconds        = 10
          }

          volume_mount {
            name       = "data"
            mount_path = "/data"
          }

          volume_mount {
            name       = "credentials"
            mount_path = "/etc/minio"
            read_only  = true
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        volume {
          name = "data"
          persistent_volume_claim {
            claim_name = kubernetes_persistent_volume_claim_v1.data.metadata[0].name
          }
        }

        volume {
          name = "tmp"
          empty_dir {}
        }

        volume {
          name = "credentials"
          secret {
            secret_name = kubernetes_secret_v1.root.metadata[0].name
          }
        }
      }
    }
  }
}

# Creates the buckets with versioning once MinIO answers; `mc mb --ignore-existing` makes reruns harmless.
resource "kubernetes_job_v1" "buckets" {
  #checkov:skip=CKV_K8S_43:kind is the development target; the image is pinned to an mc release tag.
  metadata {
    name      = "${var.name}-buckets"
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    backoff_limit = 10

    template {
      metadata {
        labels = { "app.kubernetes.io/part-of" = "medcloudcare" }
      }

      spec {
        restart_policy                  = "OnFailure"
        automount_service_account_token = false

        security_context {
          run_as_non_root = true
          run_as_user     = 1000
          run_as_group    = 1000
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "mc"
          image             = var.client_image
          image_pull_policy = "Always"
          command           = ["/bin/sh", "-ec"]
          args = [join("\n", concat(
            [". \"$MINIO_CONFIG_ENV_FILE\"", "mc --config-dir /tmp/mc alias set mcc ${local.endpoint} \"$MINIO_ROOT_USER\" \"$MINIO_ROOT_PASSWORD\""],
            [for b in sort(tolist(var.buckets)) : "mc --config-dir /tmp/mc mb --ignore-existing --with-versioning mcc/${b}"],
          ))]

          env {
            name  = "MINIO_CONFIG_ENV_FILE"
            value = "/etc/minio/config.env"
          }

          resources {
            requests = {
              cpu    = "50m"
              memory = "64Mi"
            }
            limits = {
              cpu    = "500m"
              memory = "256Mi"
            }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            run_as_non_root            = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "credentials"
            mount_path = "/etc/minio"
            read_only  = true
          }
        }

        volume {
          name = "tmp"
          empty_dir {}
        }

        volume {
          name = "credentials"
          secret {
            secret_name = kubernetes_secret_v1.root.metadata[0].name
          }
        }
      }
    }
  }

  wait_for_completion = true

  timeouts {
    create = "5m"
  }

  depends_on = [kubernetes_deployment_v1.this]
}

resource "kubernetes_network_policy_v1" "this" {
  metadata {
    name      = var.name
    namespace = var.namespace
  }

  spec {
    pod_selector {
      match_labels = local.labels
    }
    policy_types = ["Ingress"]

    ingress {
      from {
        pod_selector {
          match_labels = { "app.kubernetes.io/part-of" = "medcloudcare" }
        }
      }
      ports {
        port     = "9000"
        protocol = "TCP"
      }
    }
  }
}
