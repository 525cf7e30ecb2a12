"""OCI images built without a Docker daemon: deterministic layers (`oci`), a Debian base (`debs`), what goes into
each image (`recipes`) and the distribution-API client that pushes them (`registry`)."""
