variable "project_id" {
  type        = string
  description = "Google Cloud project of the key ring."
}

variable "location" {
  type        = string
  description = "Location of the key ring; the same region as the cluster, buckets and registry (CMEK needs the key where the data is)."
}

variable "key_ring_name" {
  type        = string
  description = "Name of the key ring (key rings cannot be deleted: pick a name you keep)."
  default     = "mcc"
}

variable "keys" {
  type        = set(string)
  description = "Keys to create: platform (the functions' key-encryption key), orthanc (the archive's), secrets (GKE etcd), storage (buckets), registry (images)."
  default     = ["platform", "orthanc", "secrets", "storage", "registry"]
}

variable "rotation_period" {
  type        = string
  description = "Automatic rotation period of every key, in seconds with an s suffix (7776000s = 90 days); ciphertexts carry the key version, so rotation needs no downtime."
  default     = "7776000s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.rotation_period)) && tonumber(trimsuffix(var.rotation_period, "s")) >= 86400
    error_message = "rotation_period must be seconds with an s suffix, at least 86400s (one day)."
  }
}

variable "protection_level" {
  type        = string
  description = "SOFTWARE or HSM (HSM keys cost more per version and per operation)."
  default     = "SOFTWARE"

  validation {
    condition     = contains(["SOFTWARE", "HSM"], var.protection_level)
    error_message = "protection_level must be SOFTWARE or HSM."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels put on the keys."
  default     = {}
}
