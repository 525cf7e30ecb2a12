# MedCloudCare on a local kind cluster: the cluster and its registry, Knative Serving with Kourier, and the
# platform's namespace with an in-cluster PostgreSQL and MinIO. Keys stay local-file keys (no cloud KMS).

provider "docker" {}

provider "kind" {}

provider "kubernetes" {
  host                   = module.cluster.endpoint
  client_certificate     = module.cluster.client_certificate
  client_key             = module.cluster.client_key
  cluster_ca_certificate = module.cluster.cluster_ca_certificate
}

provider "kubectl" {
  host                   = module.cluster.endpoint
  client_certificate     = module.cluster.client_certificate
  client_key             = module.cluster.client_key
  cluster_ca_certificate = module.cluster.cluster_ca_certificate
  load_config_file       = false
}

module "cluster" {
  source = "../../modules/cluster_kind"

  cluster_name      = var.cluster_name
  kubeconfig_path   = var.kubeconfig_path
  worker_count      = var.worker_count
  registry_port     = var.registry_port
  ingress_http_port = var.ingress_http_port
}

module "knative" {
  source = "../../modules/knative"

  serving_version      = var.knative_version
  kourier_version      = var.knative_version
  domain               = "127.0.0.1.sslip.io"
  ingress_service_type = "NodePort"
}

# The same labels as knative/overlays/<env>/namespace.yaml, so the deploy CLI's apply and Terraform agree.
resource "kubernetes_namespace_v1" "platform" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of"          = "medcloudcare"
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/warn"    = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
    }
  }
}

# REST credentials of the archive, shared by Orthanc and the functions that call it (Secret mcc-orthanc).
resource "random_password" "orthanc" {
  length  = 32
  special = false
}

resource "kubernetes_secret_v1" "orthanc" {
  metadata {
    name      = "mcc-orthanc"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }

  data = {
    username = "mcc-gateway"
    password = random_password.orthanc.result
  }
}

module "database" {
  source = "../../modules/database/in_cluster"

  namespace       = kubernetes_namespace_v1.platform.metadata[0].name
  extra_databases = ["orthanc"]
}

module "storage" {
  source = "../../modules/storage/in_cluster"

  namespace = kubernetes_namespace_v1.platform.metadata[0].name
}

# The archive is stateless (docs/stateless-archive.md): its index in its own database and role, its sealed files in
# the archive bucket. Orthanc reads the settings from MCC_ORTHANC_CONFIG (knative/base/orthanc.yaml, envFrom); no secret
# is in them.
resource "kubernetes_config_map_v1" "orthanc" {
  metadata {
    name      = "mcc-orthanc-config"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }

  data = {
    MCC_ORTHANC_CONFIG = jsonencode({
      PostgreSQL = {
        EnableIndex   = true
        EnableStorage = false
        Lock          = false
        Host          = module.database.host
        Port          = module.database.port
        Database      = module.database.extra_databases["orthanc"].database_name
        Username      = module.database.extra_databases["orthanc"].user_name
        EnableSsl     = false
      }
      MedCloudCare = {
        StorageBackend = "s3"
        S3 = {
          Bucket      = module.storage.bucket_names["archive"]
          Prefix      = "orthanc/"
          EndpointUrl = module.storage.endpoint_url
          Region      = "us-east-1"
        }
      }
    })
  }
}

# The archive's secrets, as libpq and boto3 read them from the environment.
resource "kubernetes_secret_v1" "orthanc_storage" {
  metadata {
    name      = "mcc-orthanc-storage"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }

  data = {
    PGPASSWORD            = module.database.extra_passwords["orthanc"]
    AWS_ACCESS_KEY_ID     = module.storage.access_key_id
    AWS_SECRET_ACCESS_KEY = module.storage.secret_access_key
  }
}
