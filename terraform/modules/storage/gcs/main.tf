# Versioned, CMEK-encrypted, never-public buckets, reached through the S3 API with a dedicated service account's
# HMAC key (the platform's storage backend speaks S3).

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

# Cloud Storage's service agent encrypts and decrypts objects with the key.
resource "google_kms_crypto_key_iam_member" "gcs" {
  crypto_key_id = var.kms_key_id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_bucket" "logs" {
  #checkov:skip=CKV_GCP_62:This is the access-log bucket itself; logging it into itself would loop.
  project                     = var.project_id
  name                        = "${var.name_prefix}-access-logs"
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = var.kms_key_id
  }

  lifecycle_rule {
    condition {
      age = 365
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs]
}

resource "google_storage_bucket" "this" {
  for_each                    = var.buckets
  project                     = var.project_id
  name                        = "${var.name_prefix}-${each.value}"
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = var.kms_key_id
  }

  logging {
    log_bucket = google_storage_bucket.logs.name
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs]
}

resource "google_service_account" "storage" {
  project      = var.project_id
  account_id   = "${substr(var.name_prefix, 0, 20)}-s3"
  display_name = "MedCloudCare object storage (S3 interoperability)"
}

resource "google_storage_bucket_iam_member" "storage" {
  for_each = google_storage_bucket.this
  bucket   = each.value.name
  role     = "roles/storage.objectUser"
  member   = "serviceAccount:${google_service_account.storage.email}"
}

resource "google_storage_hmac_key" "storage" {
  project               = var.project_id
  service_account_email = google_service_account.storage.email
}

resource "kubernetes_secret_v1" "storage" {
  metadata {
    name      = var.secret_name
    namespace = var.namespace
  }

  data = merge(
    {
      MCC_STORAGE_BACKEND   = "s3"
      MCC_S3_ENDPOINT_URL   = "https://storage.googleapis.com"
      MCC_S3_BUCKET         = google_storage_bucket.this["models"].name
      AWS_ACCESS_KEY_ID     = google_storage_hmac_key.storage.access_id
      AWS_SECRET_ACCESS_KEY = google_storage_hmac_key.storage.secret
    },
    { for k, b in google_storage_bucket.this : "MCC_BUCKET_${upper(k)}" => b.name },
  )
}
