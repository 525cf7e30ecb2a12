variable "project_id" {
  type        = string
  description = "Google Cloud project of the instance."
}

variable "region" {
  type        = string
  description = "Region of the instance (the cluster's region keeps latency low)."
}

variable "network_id" {
  type        = string
  description = "Id of the VPC the instance gets its private IP in (the cluster's network)."
}

variable "instance_name" {
  type        = string
  description = "Name of the Cloud SQL instance."
  default     = "mcc-postgres"
}

variable "database_version" {
  type        = string
  description = "Cloud SQL PostgreSQL version."
  default     = "POSTGRES_15"
}

variable "tier" {
  type        = string
  description = "Machine tier; db-custom-2-7680 is 2 vCPU and 7.5 GB."
  default     = "db-custom-2-7680"
}

variable "availability_type" {
  type        = string
  description = "REGIONAL keeps a standby in another zone (doubles the cost); ZONAL for test sites."
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.availability_type)
    error_message = "availability_type must be REGIONAL or ZONAL."
  }
}

variable "disk_size_gb" {
  type        = number
  description = "Initial SSD size in GB; the disk grows automatically."
  default     = 20
}

variable "database_name" {
  type        = string
  description = "Database the platform uses."
  default     = "mcc"
}

variable "user_name" {
  type        = string
  description = "Owner role the migrations run as (its password is generated and kept in the Secret)."
  default     = "mcc"
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance (set false and apply before `terraform destroy`)."
  default     = true
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the connection Secret is written to."
}

variable "secret_name" {
  type        = string
  description = "Name of the Kubernetes Secret holding the database URL (key url, read as MCC_DATABASE_URL)."
  default     = "mcc-database"
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the instance."
  default     = {}
}

variable "extra_databases" {
  type        = set(string)
  description = "Databases created besides the platform's, each with a built-in login role of the same name and a generated password (e.g. orthanc for the archive's index). Must not name database_name."
  default     = []

  validation {
    condition     = alltrue([for db in var.extra_databases : can(regex("^[a-z][a-z0-9_]{0,62}$", db))])
    error_message = "extra_databases: each name must be a lower-case PostgreSQL identifier ([a-z][a-z0-9_]*, at most 63 characters)."
  }
}
