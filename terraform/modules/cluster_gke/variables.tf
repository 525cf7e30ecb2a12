variable "project_id" {
  type        = string
  description = "Google Cloud project that holds the cluster and its network."
}

variable "region" {
  type        = string
  description = "Region of the regional cluster and its subnet, e.g. europe-west1."
}

variable "cluster_name" {
  type        = string
  description = "Name of the GKE cluster (also prefixes its network, router and node service account)."
  default     = "mcc"
}

variable "subnet_cidr" {
  type        = string
  description = "Primary range of the nodes' subnet."
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  type        = string
  description = "Secondary range for Pod IPs (VPC-native cluster)."
  default     = "10.20.0.0/14"
}

variable "services_cidr" {
  type        = string
  description = "Secondary range for Service ClusterIPs."
  default     = "10.30.0.0/20"
}

variable "master_cidr" {
  type        = string
  description = "/28 range of the control plane's private endpoint (must not overlap the ranges above)."
  default     = "172.16.0.0/28"
}

variable "master_authorized_networks" {
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  description = "Networks allowed to reach the Kubernetes API (the operator's network, CI); nothing else can."
}

variable "release_channel" {
  type        = string
  description = "GKE release channel; REGULAR gets patches a few weeks after RAPID."
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "general_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
  })
  description = "Node pool of the platform (functions, archive, executors); autoscaled per zone."
  default = {
    machine_type = "e2-standard-4"
    min_nodes    = 1
    max_nodes    = 3
  }
}

variable "sandbox_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
  })
  description = "GKE Sandbox (gVisor) node pool where model services run; min_nodes 0 lets it scale to zero with the models."
  default = {
    machine_type = "e2-standard-4"
    min_nodes    = 0
    max_nodes    = 3
  }
}

variable "secrets_encryption_key" {
  type        = string
  description = "Cloud KMS key id that encrypts Kubernetes Secrets in etcd (application-layer secrets encryption)."
}

variable "enable_nat" {
  type        = bool
  description = "Give the private nodes egress through Cloud NAT (social login providers, mail); model pods stay without egress by NetworkPolicy."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse `terraform destroy` of the cluster until this is set to false and applied."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the cluster and its nodes."
  default     = {}
}
