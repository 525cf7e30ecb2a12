"""The image registry as the deploy CLI checks it before changing anything: it answers, it holds every image the
overlay names, and those images come from this env's registry (else the cluster would pull what it cannot reach)."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from deploy import kube_apply
from deploy.errors import DeployError

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def _registry_url(host: str, path: str) -> str:
    local = host.split(":")[0] in {"localhost", "127.0.0.1", "[::1]"}
    return f"{'http' if local else 'https'}://{host}{path}"


def _registry_status(url: str, method: str = "GET") -> int:
    """HTTP status of `url` (a registry asking for a login answers 401 and is still there)."""
    request = urllib.request.Request(url, method=method, headers={"Accept": MANIFEST_TYPES})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def probe_registry(reference: str) -> None:
    """Refuse when the image registry (host of `reference`) does not answer its /v2/ endpoint."""
    host = reference.split("/", 1)[0]
    url = _registry_url(host, "/v2/")
    try:
        _registry_status(url)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DeployError(f"image registry {host} is unreachable ({url}: {reason}); the cluster could not pull "
                          "the images") from e


def check_images_pushed(images: set[str]) -> None:
    """Refuse when the registry says an image is not there (404); one that wants a login (401) is not judged."""
    missing = []
    for image in sorted(images):
        host, _, rest = image.partition("/")
        name, reference = (rest.split("@", 1) if "@" in rest else rest.rsplit(":", 1) if ":" in rest
                           else (rest, "latest"))
        url = _registry_url(host, f"/v2/{name}/manifests/{reference}")
        try:
            if _registry_status(url, "HEAD") == 404:
                missing.append(image)
        except (urllib.error.URLError, OSError) as e:
            raise DeployError(f"image registry {host} stopped answering ({url}: {getattr(e, 'reason', e)})") from e
    if missing:
        raise DeployError(f"not in the registry yet: {', '.join(missing)}; push them first "
                          "(.venv/bin/python -m deploy.images build --registry <image_registry output>)")


def check_images(objects: list[dict[str, Any]], registry: str, overlay: Path) -> None:
    """Every container image must come from this env's registry, or the cluster would pull what it cannot reach."""
    for obj in objects:
        for image in kube_apply.container_images(obj):
            if not image.startswith(registry.rstrip("/") + "/"):
                name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
                raise DeployError(f"{overlay}: {name} uses image {image}, which is not in this env's registry "
                                  f"{registry}: set `images: newName` in the overlay (or push there) and retry")
