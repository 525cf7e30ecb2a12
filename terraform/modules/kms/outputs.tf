output "key_ring_id" {
  description = "Id of the key ring."
  value       = google_kms_key_ring.this.id
}

output "key_ids" {
  description = "Key id per use (platform, orthanc, secrets, storage, registry)."
  value       = { for k, key in google_kms_crypto_key.this : k => key.id }
}

output "rotation_period" {
  description = "Rotation period of the keys."
  value       = var.rotation_period
}
