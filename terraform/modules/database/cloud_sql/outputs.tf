output "host" {
  description = "Private IP of the instance."
  value       = google_sql_database_instance.this.private_ip_address
}

output "port" {
  description = "PostgreSQL port."
  value       = 5432
}

output "database_name" {
  description = "Database the platform uses."
  value       = google_sql_database.this.name
}

output "user_name" {
  description = "Owner role of the database."
  value       = google_sql_user.owner.name
}

output "connection_name" {
  description = "project:region:instance, for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.this.connection_name
}

output "secret_name" {
  description = "Kubernetes Secret holding the database URL (key url, read as MCC_DATABASE_URL)."
  value       = kubernetes_secret_v1.connection.metadata[0].name
}

output "extra_databases" {
  description = "Per extra database: its database name and login role (user_name), e.g. extra_databases[\"orthanc\"]."
  value = { for db in var.extra_databases : db => {
    database_name = google_sql_database.extra[db].name
    user_name     = google_sql_user.extra[db].name
  } }
}

output "extra_passwords" {
  description = "Password of each extra database's login role, by database name (read as PGPASSWORD)."
  value       = { for db, password in random_password.extra : db => password.result }
  sensitive   = true
}
