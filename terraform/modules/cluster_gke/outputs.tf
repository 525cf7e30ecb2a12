output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "location" {
  description = "Region of the cluster."
  value       = google_container_cluster.this.location
}

output "endpoint" {
  description = "URL of the cluster's Kubernetes API; known once the general pool exists, so what is applied through it has nodes to run on."
  value       = "https://${google_container_cluster.this.endpoint}"

  depends_on = [google_container_node_pool.general]
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the cluster's API server."
  value       = base64decode(google_container_cluster.this.master_auth[0].cluster_ca_certificate)
  sensitive   = true
}

output "network_id" {
  description = "Id of the VPC the nodes (and Cloud SQL's private IP) live in."
  value       = google_compute_network.this.id
}

output "workload_pool" {
  description = "Workload Identity pool: Kubernetes service accounts map to Google ones as <pool>[<ns>/<ksa>]."
  value       = local.workload_pool
}

output "node_service_account" {
  description = "Email of the nodes' service account."
  value       = google_service_account.nodes.email
}

output "kubeconfig_context" {
  description = "Context name `gcloud container clusters get-credentials` writes."
  value       = "gke_${var.project_id}_${var.region}_${google_container_cluster.this.name}"
}

output "credentials_command" {
  description = "Command that writes the cluster's credentials into the kubeconfig."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.this.name} --region ${var.region} --project ${var.project_id}"
}
