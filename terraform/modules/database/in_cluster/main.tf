# One PostgreSQL Pod with a persistent volume, reachable only from the platform's Pods (NetworkPolicy).

locals {
  labels = {
    "app.kubernetes.io/name"    = var.name
    "app.kubernetes.io/part-of" = "medcloudcare"
  }
  host = "${var.name}.${var.namespace}.svc.cluster.local"
  # Run once by the postgres image on first start (empty data directory), as the owner role: one login role and one
  # database per extra database, each role owning only its own database (Orthanc's index stays out of `mcc`).
  init_script = join("\n", concat([trimspace(file("${path.module}/extra-databases.sh"))],
  [for db in sort(tolist(var.extra_databases)) : "create ${db}"], [""]))
}

resource "random_password" "owner" {
  length  = 32
  special = false
}

# One role per extra database, with a password of its own.
resource "random_password" "extra" {
  for_each = var.extra_databases
  length   = 32
  special  = false
}

resource "kubernetes_secret_v1" "server" {
  metadata {
    name      = "${var.name}-server"
    namespace = var.namespace
    labels    = local.labels
  }

  # <db>-password keys are read by the init script, never by the server itself.
  data = merge(
    { password = random_password.owner.result },
    { for db, password in random_password.extra : "${db}-password" => password.result },
  )
}

resource "kubernetes_config_map_v1" "init" {
  metadata {
    name      = "${var.name}-init"
    namespace = var.namespace
    labels    = local.labels
  }

  data = {
    "10-extra-databases.sh" = local.init_script
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

          volume_mount {
            name       = "init"
            mount_path = "/docker-entrypoint-initdb.d"
            read_only  = true
          }
        }

        # Executable, so the image's entrypoint runs it in its own shell instead of sourcing it.
        volume {
          name = "init"
          config_map {
            name         = kubernetes_config_map_v1.init.metadata[0].name
            default_mode = "0555"
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
