output "env" {
  description = "Name of this environment (the knative/overlays/<env> the deploy CLI applies)."
  value       = "gke"
}

output "kubeconfig_context" {
  description = "Context of the cluster in the kubeconfig after credentials_command."
  value       = module.cluster.kubeconfig_context
}

output "credentials_command" {
  description = "Writes the cluster's credentials into ~/.kube/config."
  value       = module.cluster.credentials_command
}

output "image_registry" {
  description = "Registry prefix images are pushed to before `deploy apply`."
  value       = module.registry.repository_url
}

output "namespace" {
  description = "Namespace of the platform."
  value       = kubernetes_namespace_v1.platform.metadata[0].name
}

output "knative_domain" {
  description = "Domain of Knative routes (wildcard DNS to Kourier's load balancer)."
  value       = module.knative.domain
}

output "database_connection_name" {
  description = "Cloud SQL connection name (project:region:instance)."
  value       = module.database.connection_name
}

output "database_secret" {
  description = "Secret with the database URL (key url)."
  value       = module.database.secret_name
}

output "storage_secret" {
  description = "Secret with the S3 settings and credentials."
  value       = module.storage.secret_name
}

output "bucket_names" {
  description = "Bucket per short name (archive, models)."
  value       = module.storage.bucket_names
}

output "platform_key_id" {
  description = "KMS key id of the platform's key-encryption key."
  value       = module.kms.key_ids["platform"]
}

output "orthanc_key_id" {
  description = "KMS key id of the archive's key-encryption key (KmsKeyName of Orthanc's MedCloudCare settings)."
  value       = module.kms.key_ids["orthanc"]
}

output "workload_service_accounts" {
  description = "Google service account per workload (functions, model-deployer, orthanc): the iam.gke.io/gcp-service-account annotations of knative/overlays/gke."
  value       = { for k, sa in google_service_account.workload : k => sa.email }
}
