variable "cluster_name" {
  type        = string
  description = "Name of the kind cluster (kubeconfig context kind-<name>)."
  default     = "mcc"
}

variable "kubeconfig_path" {
  type        = string
  description = "Kubeconfig file written for the cluster; the deploy CLI reads it from the outputs."
  default     = "~/.kube/kind-mcc.yaml"
}

variable "worker_count" {
  type        = number
  description = "Worker nodes beside the control plane."
  default     = 1
}

variable "registry_port" {
  type        = number
  description = "Loopback port of the local registry (images are pushed to localhost:<port>)."
  default     = 5001
}

variable "ingress_http_port" {
  type        = number
  description = "Loopback port where Kourier (the platform's HTTP entry) answers."
  default     = 80
}

variable "namespace" {
  type        = string
  description = "Namespace of the platform; must match the kind overlay's namespace (knative/overlays/kind)."
  default     = "mcc"
}

variable "knative_version" {
  type        = string
  description = "Knative Serving and net-kourier release to install."
  default     = "1.17.0"
}
