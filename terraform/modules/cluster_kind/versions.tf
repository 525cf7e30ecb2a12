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
  }
}
