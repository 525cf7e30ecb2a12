output "cluster_name" {
  description = "Name of the kind cluster."
  value       = kind_cluster.this.name
}

output "endpoint" {
  description = "URL of the cluster's Kubernetes API (loopback)."
  value       = kind_cluster.this.endpoint
}

output "client_certificate" {
  description = "PEM client certificate of the cluster admin (kind's own CA)."
  value       = kind_cluster.this.client_certificate
  sensitive   = true
}

output "client_key" {
  description = "PEM private key of the cluster admin."
  value       = kind_cluster.this.client_key
  sensitive   = true
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the cluster's API server."
  value       = kind_cluster.this.cluster_ca_certificate
  sensitive   = true
}

output "kubeconfig_path" {
  description = "Kubeconfig file written for the cluster."
  value       = kind_cluster.this.kubeconfig_path
}

output "kubeconfig_context" {
  description = "Context name of the cluster in the kubeconfig."
  value       = "kind-${kind_cluster.this.name}"
}

output "registry_host" {
  description = "host:port images are pushed to and pulled from (the local registry)."
  value       = local.registry_host
}

output "ingress_url" {
  description = "Loopback URL of Kourier, the Knative ingress."
  value       = "http://127.0.0.1:${var.ingress_http_port}"
}
