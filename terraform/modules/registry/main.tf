# The Docker repository the platform's and the models' images are pushed to. Tags are immutable: a deployed
# reference always means the same image, and a model version's rollback finds its image unchanged.

data "google_project" "this" {
  project_id = var.project_id
}

# Artifact Registry's service agent encrypts and decrypts the images with the key.
resource "google_kms_crypto_key_iam_member" "registry" {
  crypto_key_id = var.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
}

resource "google_artifact_registry_repository" "this" {
  project       = var.project_id
  location      = var.location
  repository_id = var.repository_id
  description   = "MedCloudCare platform and model images"
  format        = "DOCKER"
  kms_key_name  = var.kms_key_id
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = var.untagged_retention
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.registry]
}

resource "google_artifact_registry_repository_iam_member" "readers" {
  count      = length(var.reader_members)
  project    = var.project_id
  location   = var.location
  repository = google_artifact_registry_repository.this.name
  role       = "roles/artifactregistry.reader"
  member     = var.reader_members[count.index]
}
