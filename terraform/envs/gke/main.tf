# MedCloudCare on GKE: KMS keys first (they encrypt etcd secrets, buckets and images), then the private cluster
# with its gVisor pool, Knative Serving with Kourier, Cloud SQL on a private IP, buckets and the registry.

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

data "google_project" "this" {
  project_id = var.project_id
}

provider "kubernetes" {
  host                   = module.cluster.endpoint
  token                  = data.google_client_config.current.access_token
  cluster_ca_certificate = module.cluster.cluster_ca_certificate
}

provider "kubectl" {
  host                   = module.cluster.endpoint
  token                  = data.google_client_config.current.access_token
  cluster_ca_certificate = module.cluster.cluster_ca_certificate
  load_config_file       = false
}

module "kms" {
  source = "../../modules/kms"

  project_id      = var.project_id
  location        = var.region
  rotation_period = var.key_rotation_period
  labels          = var.labels
}

# GKE's service agent encrypts Kubernetes Secrets in etcd with the "secrets" key.
resource "google_kms_crypto_key_iam_member" "gke_secrets" {
  crypto_key_id = module.kms.key_ids["secrets"]
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:service-${data.google_project.this.number}@container-engine-robot.iam.gserviceaccount.com"
}

module "cluster" {
  source = "../../modules/cluster_gke"

  project_id                 = var.project_id
  region                     = var.region
  cluster_name               = var.cluster_name
  master_authorized_networks = var.master_authorized_networks
  general_pool               = var.general_pool
  sandbox_pool               = var.sandbox_pool
  secrets_encryption_key     = module.kms.key_ids["secrets"]
  deletion_protection        = var.deletion_protection
  labels                     = var.labels

  depends_on = [google_kms_crypto_key_iam_member.gke_secrets]
}

module "knative" {
  source = "../../modules/knative"

  serving_version      = var.knative_version
  kourier_version      = var.knative_version
  domain               = var.domain
  ingress_service_type = "LoadBalancer"
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
  source = "../../modules/database/cloud_sql"

  project_id          = var.project_id
  region              = var.region
  network_id          = module.cluster.network_id
  tier                = var.database_tier
  availability_type   = var.database_availability
  deletion_protection = var.deletion_protection
  namespace           = kubernetes_namespace_v1.platform.metadata[0].name
  extra_databases     = ["orthanc"]
  labels              = var.labels
}

module "storage" {
  source = "../../modules/storage/gcs"

  project_id  = var.project_id
  location    = var.region
  name_prefix = var.project_id
  kms_key_id  = module.kms.key_ids["storage"]
  namespace   = kubernetes_namespace_v1.platform.metadata[0].name
  labels      = var.labels
}

module "registry" {
  source = "../../modules/registry"

  project_id = var.project_id
  location   = var.region
  kms_key_id = module.kms.key_ids["registry"]
  labels     = var.labels
}

# Workload Identity: each Kubernetes service account of knative/base/service-accounts.yaml acts as its own Google
# service account (annotated in knative/overlays/gke); no key file is ever mounted.
locals {
  workload_accounts = {
    functions      = "mcc-function"
    model-deployer = "mcc-model-deployer"
    orthanc        = "mcc-orthanc"
  }
}

resource "google_service_account" "workload" {
  for_each     = local.workload_accounts
  project      = var.project_id
  account_id   = "${var.cluster_name}-${each.key}"
  display_name = "MedCloudCare ${each.key} (Workload Identity)"
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each           = local.workload_accounts
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${module.cluster.workload_pool}[${var.namespace}/${each.value}]"
}

# The functions unwrap data keys with the platform key-encryption key.
resource "google_kms_crypto_key_iam_member" "platform" {
  crypto_key_id = module.kms.key_ids["platform"]
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.workload["functions"].email}"
}

# The archive seals its storage with its own key-encryption key (docs/stateless-archive.md).
resource "google_kms_crypto_key_iam_member" "orthanc" {
  crypto_key_id = module.kms.key_ids["orthanc"]
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.workload["orthanc"].email}"
}

# The model deployer pushes each model version's image.
resource "google_artifact_registry_repository_iam_member" "model_images" {
  project    = var.project_id
  location   = var.region
  repository = module.registry.repository_id
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.workload["model-deployer"].email}"
}

# Cloud settings only Terraform knows, for the functions to read with
# `envFrom: [{configMapRef: {name: mcc-cloud, optional: true}}]`: the platform key-encryption key in Cloud KMS.
resource "kubernetes_config_map_v1" "cloud" {
  metadata {
    name      = "mcc-cloud"
    namespace = kubernetes_namespace_v1.platform.metadata[0].name
  }

  data = {
    MCC_KEY_PROVIDER = "cloudkms"
    MCC_KMS_KEY_NAME = module.kms.key_ids["platform"]
  }
}

# The archive reaches its bucket through GCS's S3 interoperability with an HMAC key of its own service account, which
# may use the archive bucket only (Workload Identity tokens are not accepted by the S3 API).
resource "google_storage_bucket_iam_member" "orthanc_archive" {
  bucket = module.storage.bucket_names["archive"]
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.workload["orthanc"].email}"
}

resource "google_storage_hmac_key" "orthanc" {
  project               = var.project_id
  service_account_email = google_service_account.workload["orthanc"].email
}

# The archive is stateless (docs/stateless-archive.md): its index in its own Cloud SQL database and role, its sealed
# files in the archive bucket, its key-encryption key the `orthanc` KMS key. Orthanc reads the settings from
# MCC_ORTHANC_CONFIG (knative/base/orthanc.yaml, envFrom); no secret is in them.
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
        EnableSsl     = true
      }
      MedCloudCare = {
        KeyProvider    = "cloudkms"
        KmsKeyName     = module.kms.key_ids["orthanc"]
        StorageBackend = "s3"
        S3 = {
          Bucket      = module.storage.bucket_names["archive"]
          Prefix      = "orthanc/"
          EndpointUrl = module.storage.endpoint_url
          Region      = "auto"
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
    AWS_ACCESS_KEY_ID     = google_storage_hmac_key.orthanc.access_id
    AWS_SECRET_ACCESS_KEY = google_storage_hmac_key.orthanc.secret
  }
}
