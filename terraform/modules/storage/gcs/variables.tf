variable "project_id" {
  type        = string
  description = "Google Cloud project of the buckets."
}

variable "location" {
  type        = string
  description = "Location of the buckets (a region, e.g. europe-west1, keeps data in one jurisdiction)."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every bucket name (bucket names are global: use something unique such as the project id)."
}

variable "buckets" {
  type        = set(string)
  description = "Short names of the buckets to create: the archive's sealed files and the model bundles."
  default     = ["archive", "models"]

  validation {
    condition     = contains(var.buckets, "models")
    error_message = "buckets must include \"models\" (the platform's default bucket)."
  }
}

variable "kms_key_id" {
  type        = string
  description = "Cloud KMS key id used as the buckets' default encryption key (CMEK)."
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days a replaced or deleted object version is kept before it is removed."
  default     = 30
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete non-empty buckets (keep false outside test projects)."
  default     = false
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the credentials Secret is written to."
}

variable "secret_name" {
  type        = string
  description = "Name of the Kubernetes Secret holding the S3 settings and HMAC key."
  default     = "mcc-object-storage"
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the buckets."
  default     = {}
}
