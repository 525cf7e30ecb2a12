variable "cluster_name" {
  type        = string
  description = "Name of the kind cluster; the kubeconfig context becomes kind-<name>."
  default     = "mcc"
}

variable "node_image" {
  type        = string
  description = "kindest/node image of every node; pinned so the Kubernetes version does not move under us (containerd 1.7, whose registry mirrors the local registry relies on)."
  default     = "kindest/node:v1.31.4"
}

variable "worker_count" {
  type        = number
  description = "Worker nodes beside the control plane; 1 is enough for the platform, 0 runs everything on the control plane."
  default     = 1

  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 5
    error_message = "worker_count must be between 0 and 5."
  }
}

variable "kubeconfig_path" {
  type        = string
  description = "File the kind provider writes the cluster's kubeconfig to (the deploy CLI reads it through the kubeconfig_path output)."
}

variable "registry_name" {
  type        = string
  description = "Container name of the local OCI registry; nodes reach it by this name on the kind Docker network."
  default     = "kind-registry"
}

variable "registry_image" {
  type        = string
  description = "Image of the local OCI registry (Distribution)."
  default     = "registry:2.8.3"
}

variable "registry_port" {
  type        = number
  description = "Loopback port the local registry listens on; images are pushed to localhost:<port>/... and nodes pull the same name."
  default     = 5001
}

variable "ingress_http_port" {
  type        = number
  description = "Loopback port of the host mapped to Kourier's NodePort (31080) on the control plane: the platform's HTTP entry."
  default     = 80
}
