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
