variable "project_id" {
  type        = string
  description = "Google Cloud project everything is created in (its APIs enabled, see README)."
}

variable "region" {
  type        = string
  description = "Region of the cluster, database, buckets, keys and registry, e.g. europe-west1."
}

variable "master_authorized_networks" {
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  description = "Networks allowed to reach the Kubernetes API, e.g. [{ cidr_block = \"203.0.113.0/24\", display_name = \"office\" }]."
}

variable "cluster_name" {
  type        = string
  description = "Name of the GKE cluster."
  default     = "mcc"
}

variable "namespace" {
  type        = string
  description = "Namespace of the platform; must match the gke overlay's namespace (knative/overlays/gke)."
  default     = "mcc"
}

variable "domain" {
  type        = string
  description = "Domain of Knative routes; point a wildcard DNS record *.<domain> at Kourier's load balancer."
}

variable "general_pool" {
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
  })
  description = "Node pool of the platform, per zone (a regional cluster has three zones)."
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
  description = "GKE Sandbox (gVisor) pool of the model services, per zone; min_nodes 0 scales it to zero."
  default = {
    machine_type = "e2-standard-4"
    min_nodes    = 0
    max_nodes    = 3
  }
}

variable "database_tier" {
  type        = string
  description = "Cloud SQL machine tier."
  default     = "db-custom-2-7680"
}

variable "database_availability" {
  type        = string
  description = "REGIONAL (standby in another zone) or ZONAL."
  default     = "REGIONAL"
}

variable "key_rotation_period" {
  type        = string
  description = "Rotation period of the KMS keys (seconds with an s suffix)."
  default     = "7776000s"
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the cluster and the database from deletion; set false and apply before `deploy destroy`."
  default     = true
}

variable "knative_version" {
  type        = string
  description = "Knative Serving and net-kourier release to install."
  default     = "1.17.0"
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource that takes them."
  default     = { "app" = "medcloudcare" }
}
