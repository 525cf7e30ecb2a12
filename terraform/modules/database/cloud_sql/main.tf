# Cloud SQL for PostgreSQL reachable only on a private IP in the cluster's VPC (private services access).

resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.instance_name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = var.network_id
}

resource "google_service_networking_connection" "private_services" {
  network                 = var.network_id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

resource "google_sql_database_instance" "this" {
  #checkov:skip=CKV_GCP_6:ENCRYPTED_ONLY refuses every unencrypted connection; client certificates would need per-Pod certificate files, and the instance has no public IP (reachable only from the cluster's VPC).
  #checkov:skip=CKV_GCP_79:The platform is built and tested against PostgreSQL 15 (Debian 12, the in-cluster image); move with it, not ahead of it.
  project             = var.project_id
  name                = var.instance_name
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.tier
    availability_type = var.availability_type
    disk_type         = "PD_SSD"
    disk_size         = var.disk_size_gb
    disk_autoresize   = true
    user_labels       = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "02:00"

      backup_retention_settings {
        retained_backups = 14
      }
    }

    maintenance_window {
      day  = 7
      hour = 3
    }

    # Connection, lock and DDL logging and pgAudit: who did what to the database is auditable.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_duration"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "this" {
  project  = var.project_id
  name     = var.database_name
  instance = google_sql_database_instance.this.name
}

resource "random_password" "owner" {
  length  = 32
  special = false
}

resource "google_sql_user" "owner" {
  project  = var.project_id
  name     = var.user_name
  instance = google_sql_database_instance.this.name
  password = random_password.owner.result
}

resource "kubernetes_secret_v1" "connection" {
  metadata {
    name      = var.secret_name
    namespace = var.namespace
  }

  data = {
    url = "postgresql+psycopg2://${var.user_name}:${random_password.owner.result}@${google_sql_database_instance.this.private_ip_address}:5432/${var.database_name}?sslmode=require"
  }
}

# Databases of other workloads (Orthanc's index): each with a login role of its own, so no workload signs in as the
# platform's owner role.
resource "google_sql_database" "extra" {
  for_each = var.extra_databases
  project  = var.project_id
  name     = each.key
  instance = google_sql_database_instance.this.name
}

resource "random_password" "extra" {
  for_each = var.extra_databases
  length   = 32
  special  = false
}

resource "google_sql_user" "extra" {
  for_each = var.extra_databases
  project  = var.project_id
  name     = each.key
  instance = google_sql_database_instance.this.name
  password = random_password.extra[each.key].result
}
