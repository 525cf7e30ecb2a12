output "bucket_names" {
  description = "Bucket name per short name (archive, models)."
  value       = { for b in var.buckets : b => b }
}

output "endpoint_url" {
  description = "S3 endpoint of MinIO inside the cluster."
  value       = local.endpoint
}

output "secret_name" {
  description = "Kubernetes Secret holding the S3 settings and credentials."
  value       = kubernetes_secret_v1.storage.metadata[0].name
}

output "access_key_id" {
  description = "S3 access key id of the platform's storage credentials (also in the Secret)."
  value       = "mcc-admin"
  sensitive   = true
}

output "secret_access_key" {
  description = "S3 secret access key of the platform's storage credentials (also in the Secret)."
  value       = random_password.root.result
  sensitive   = true
}
