output "env" {
  description = "Name of this environment (the knative/overlays/<env> the deploy CLI applies)."
  value       = "kind"
}

output "kubeconfig_path" {
  description = "Kubeconfig of the cluster."
  value       = module.cluster.kubeconfig_path
}

output "kubeconfig_context" {
  description = "Context of the cluster in that kubeconfig."
  value       = module.cluster.kubeconfig_context
}

output "image_registry" {
  description = "Registry images are pushed to before `deploy apply` (python -m deploy.images build --registry ...)."
  value       = module.cluster.registry_host
}

output "namespace" {
  description = "Namespace of the platform."
  value       = kubernetes_namespace_v1.platform.metadata[0].name
}

output "ingress_url" {
  description = "Where the platform answers (Host: <service>.<namespace>.127.0.0.1.sslip.io)."
  value       = module.cluster.ingress_url
}

output "knative_domain" {
  description = "Domain of Knative routes."
  value       = module.knative.domain
}

output "database_secret" {
  description = "Secret with the database URL (key url)."
  value       = module.database.secret_name
}

output "storage_secret" {
  description = "Secret with the S3 settings and credentials."
  value       = module.storage.secret_name
}
