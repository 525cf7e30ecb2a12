output "bucket_names" {
  description = "Bucket name per short name (archive, models)."
  value       = { for k, b in google_storage_bucket.this : k => b.name }
}

output "bucket_urls" {
  description = "gs:// URL per short name."
  value       = { for k, b in google_storage_bucket.this : k => b.url }
}

output "endpoint_url" {
  description = "S3 endpoint of the buckets (GCS interoperability)."
  value       = "https://storage.googleapis.com"
}

output "service_account_email" {
  description = "Service account whose HMAC key the platform uses."
  value       = google_service_account.storage.email
}

output "secret_name" {
  description = "Kubernetes Secret holding the S3 settings and credentials."
  value       = kubernetes_secret_v1.storage.metadata[0].name
}
