variable "serving_version" {
  type        = string
  description = "Knative Serving release whose CRDs and core manifests are installed (without the knative- prefix)."
  default     = "1.17.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.serving_version))
    error_message = "serving_version must be a release number such as 1.17.0."
  }
}

variable "kourier_version" {
  type        = string
  description = "net-kourier release installed as the ingress; keep it on the same minor as serving_version."
  default     = "1.17.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kourier_version))
    error_message = "kourier_version must be a release number such as 1.17.0."
  }
}

variable "domain" {
  type        = string
  description = "Domain Knative routes get (<service>.<namespace>.<domain>); e.g. 127.0.0.1.sslip.io on kind."
}

variable "ingress_service_type" {
  type        = string
  description = "Type of Kourier's Service: NodePort on kind (port 31080 mapped to the host), LoadBalancer on GKE."
  default     = "LoadBalancer"

  validation {
    condition     = contains(["NodePort", "LoadBalancer"], var.ingress_service_type)
    error_message = "ingress_service_type must be NodePort or LoadBalancer."
  }
}

variable "scale_to_zero_grace_period" {
  type        = string
  description = "How long the last Pod of an idle service stays after traffic stops (Knative config-autoscaler)."
  default     = "30s"
}

variable "stable_window" {
  type        = string
  description = "Window over which the autoscaler averages concurrency; an idle service scales to zero after it plus the grace period."
  default     = "60s"
}
