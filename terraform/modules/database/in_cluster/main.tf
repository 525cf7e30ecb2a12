# One PostgreSQL Pod with a persistent volume, reachable only from the platform's Pods (NetworkPolicy).

locals {
  labels = {
    "app.kubernetes.io/name"    = var.name
    "app.kubernetes.io/part-of" = "medcloudcare"
  }
  host = "${var.name}.${var.namespace}.svc.cluster.local"
}

resource "random_password" "owner" {
  length  = 32
  special = false
}

resource "kubernetes_secret_v1" "server" {
  metadata {
    name      = "${var.name}-server"
    namespace = var.namespace
    labels    = local.labels
  }

  data = {
    password = random_password.owner.result
  }
}

resource "kubernetes_secret_v1" "connection" {
  metadata {
    name      = var.secret_name
    namespace = var.namespace
    labels    = local.labels
  }

  data = {
    url = "postgresql+psycopg2://${var.user_name}:${random_password.owner.result}@${local.host}:5432/${var.database_name}"
  }
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
      name        = "postgres"
      port        = 5432
      target_port = 5432
    }
  }
}

resource "kubernetes_stateful_set_v1" "this" {
  #checkov:skip=CKV_K8S_43:kind is the development target; the image is pinned to a patch release tag, digests are pinned where images are built (deploy/images.py).
  metadata {
    name      = var.name
    namespace = var.namespace
    labels    = local.labels
  }

  spec {
    service_name = kubernetes_service_v1.this.metadata[0].name
    replicas     = 1

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
          run_as_user     = 999
          run_as_group    = 999
          fs_group        = 999
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "postgres"
          image             = var.image
          image_pull_policy = "Always"

          # The password is read from a mounted file, not an environment variable.
          env {
            name  = "POSTGRES_PASSWORD_FILE"
            value = "/etc/postgres-secret/password"
          }

          env {
            name  = "POSTGRES_USER"
            value = var.user_name
          }

          env {
            name  = "POSTGRES_DB"
            value = var.database_name
          }

          env {
            name  = "PGDATA"
            value = "/var/lib/postgresql/data/pgdata"
          }

          port {
            container_port = 5432
          }

          resources {
            requests = {
              cpu    = "250m"
              memory = "512Mi"
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
            exec {
              command = ["pg_isready", "-U", var.user_name, "-d", var.database_name]
            }
            period_seconds = 5
          }

          liveness_probe {
            exec {
              command = ["pg_isready", "-U", var.user_name, "-d", var.database_name]
            }
            initial_delay_seconds = 30
            period_seconds        = 10
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/postgresql/data"
          }

          volume_mount {
            name       = "run"
            mount_path = "/var/run/postgresql"
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "secret"
            mount_path = "/etc/postgres-secret"
            read_only  = true
          }
        }

        volume {
          name = "secret"
          secret {
            secret_name = kubernetes_secret_v1.server.metadata[0].name
          }
        }

        volume {
          name = "run"
          empty_dir {}
        }

        volume {
          name = "tmp"
          empty_dir {}
        }
      }
    }

    volume_claim_template {
      metadata {
        name = "data"
      }
      spec {
        access_modes = ["ReadWriteOnce"]
        resources {
          requests = {
            storage = var.storage_size
          }
        }
      }
    }
  }
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
        port     = "5432"
        protocol = "TCP"
      }
    }
  }
}
