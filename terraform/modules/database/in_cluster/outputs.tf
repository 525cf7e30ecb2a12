output "host" {
  description = "Cluster DNS name of the database."
  value       = local.host
}

output "port" {
  description = "PostgreSQL port."
  value       = 5432
}

output "database_name" {
  description = "Database the platform uses."
  value       = var.database_name
}

output "user_name" {
  description = "Owner role of the database."
  value       = var.user_name
}

output "secret_name" {
  description = "Kubernetes Secret holding the database URL (key url, read as MCC_DATABASE_URL)."
  value       = kubernetes_secret_v1.connection.metadata[0].name
}
