terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    kind = {
      source  = "tehcyx/kind"
      version = ">= 0.7.0, < 0.9.0"
    }
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 3.0.2, < 4.0.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.31.0, < 3.0.0"
    }
    kubectl = {
      source  = "alekc/kubectl"
      version = ">= 2.1.0, < 3.0.0"
    }
    http = {
      source  = "hashicorp/http"
      version = ">= 3.4.0, < 4.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }
}
