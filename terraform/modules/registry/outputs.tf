output "repository_id" {
  description = "Name of the repository."
  value       = google_artifact_registry_repository.this.repository_id
}

output "registry_host" {
  description = "Host images are pushed to (docker login / crane auth with gcloud's credential helper)."
  value       = "${var.location}-docker.pkg.dev"
}

output "repository_url" {
  description = "Prefix of every image reference: <host>/<project>/<repository>."
  value       = "${var.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}
