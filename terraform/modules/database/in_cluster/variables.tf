variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the database and its Secret (the platform's namespace)."
}

variable "name" {
  type        = string
  description = "Name of the StatefulSet and Service; the host is <name>.<namespace>.svc.cluster.local."
  default     = "postgres"
}

variable "image" {
  type        = string
  description = "PostgreSQL image (Debian based, uid 999), pinned to a patch release."
  default     = "postgres:15.10-bookworm"
}

variable "storage_size" {
  type        = string
  description = "Size of the data volume claim."
  default     = "5Gi"
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

variable "secret_name" {
  type        = string
  description = "Name of the Kubernetes Secret holding the database URL (key url, read as MCC_DATABASE_URL)."
  default     = "mcc-database"
}

variable "extra_databases" {
  type        = set(string)
  description = "Databases created on first start besides the platform's, each owned by a login role of the same name with a generated password (e.g. orthanc for the archive's index): least privilege, no role shares a database. Must not name database_name."
  default     = []

  validation {
    condition     = alltrue([for db in var.extra_databases : can(regex("^[a-z][a-z0-9_]{0,62}$", db))])
    error_message = "extra_databases: each name must be a lower-case PostgreSQL identifier ([a-z][a-z0-9_]*, at most 63 characters)."
  }
}
