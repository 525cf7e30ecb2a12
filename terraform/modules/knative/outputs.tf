output "serving_version" {
  description = "Installed Knative Serving release."
  value       = var.serving_version
}

output "kourier_version" {
  description = "Installed net-kourier release."
  value       = var.kourier_version
}

output "ingress_class" {
  description = "Knative ingress class in use."
  value       = local.kourier_class
}

output "domain" {
  description = "Domain of Knative routes."
  value       = var.domain
}

output "ready" {
  description = "Ids of the applied core objects; depend on this to wait for Knative Serving."
  value       = [for m in kubectl_manifest.serving_core : m.id]
}
