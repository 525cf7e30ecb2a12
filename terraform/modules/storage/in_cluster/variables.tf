variable "namespace" {
  type        = string
  description = "Kubernetes namespace of MinIO and the credentials Secret (the platform's namespace)."
}

variable "name" {
  type        = string
  description = "Name of the MinIO Deployment and Service."
  default     = "minio"
}

variable "image" {
  type        = string
  description = "MinIO server image, pinned to a release."
  default     = "minio/minio:RELEASE.2025-04-22T22-12-26Z"
}

variable "client_image" {
  type        = string
  description = "MinIO client (mc) image of the Job that creates the versioned buckets."
  default     = "minio/mc:RELEASE.2025-04-16T18-13-26Z"
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

variable "storage_size" {
  type        = string
  description = "Size of MinIO's data volume claim."
  default     = "10Gi"
}

variable "secret_name" {
  type        = string
  description = "Name of the Kubernetes Secret holding the S3 settings and credentials."
  default     = "mcc-object-storage"
}
