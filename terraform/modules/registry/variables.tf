variable "project_id" {
  type        = string
  description = "Google Cloud project of the repository."
}

variable "location" {
  type        = string
  description = "Region of the repository (the cluster's region: pulls stay in-region and free of egress charges)."
}

variable "repository_id" {
  type        = string
  description = "Name of the Docker repository."
  default     = "mcc"
}

variable "kms_key_id" {
  type        = string
  description = "Cloud KMS key id that encrypts the repository's images (CMEK)."
}

variable "reader_members" {
  type        = list(string)
  description = "IAM members allowed to pull, e.g. the nodes' service account (serviceAccount:...)."
  default     = []
}

variable "untagged_retention" {
  type        = string
  description = "Age after which untagged image versions are deleted, in seconds with an s suffix."
  default     = "1209600s"
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the repository."
  default     = {}
}
