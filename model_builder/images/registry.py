"""Push images to an OCI registry and read them back, over the OCI distribution API (plain HTTP on loopback, HTTPS
elsewhere): HEAD skips blobs the registry has, a monolithic POST+PUT uploads the others streamed from the layout,
the manifest goes last, so a reader never sees a manifest whose blobs are missing."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass

import requests

from .errors import BadImageName, RegistryError
from .oci import MEDIA_MANIFEST, Blob, Image, LayoutStore

log = logging.getLogger(__name__)

# From the OCI distribution spec: repository name components and tags.
NAME = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
TIMEOUT = (5, 600)


def check_reference(name: str, tag: str) -> None:
    """Refuse names and tags the distribution API would refuse, before any upload."""
    if len(name) > 255 or not NAME.match(name):
        raise BadImageName("name", name, "lower-case alphanumerics separated by '.', '_', '__', '-' or '/'")
    if not TAG.match(tag):
        raise BadImageName("tag", tag, "up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")


@dataclass(frozen=True)
class Pushed:
    """What the registry now holds: `registry/name:tag@digest`, and how many blobs were uploaded vs already there."""

    reference: str
    digest: str
    uploaded: int
    skipped: int
    mounted: int = 0


class RegistryClient:
    """One registry, e.g. `127.0.0.1:5000` (loopback addresses are spoken to in plain HTTP)."""

    def __init__(self, registry: str, *, session: requests.Session | None = None) -> None:
        if not REGISTRY.match(registry):
            raise BadImageName("registry", registry, "host[:port], e.g. 127.0.0.1:5000")
        self.registry = registry
        host = registry.split(":")[0]
        scheme = "http" if host in ("localhost", "127.0.0.1") or host.startswith("127.") else "https"
        self.base = f"{scheme}://{registry}/v2"
        self.http = session or requests.Session()
        self._holders: dict[str, str] = {}  # blob digest → a repository of this registry known to hold it

    def _request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        try:
            return self.http.request(method, url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        except requests.ConnectionError as e:
            raise RegistryError(self.registry, f"cannot connect ({type(e).__name__}); is a registry listening there? "
                                               "scripts/build-images starts one when --registry is omitted") from e
        except requests.Timeout as e:
            raise RegistryError(self.registry, f"{method} timed out") from e

    def _expect(self, response: requests.Response, *statuses: int, what: str) -> requests.Response:
        if response.status_code not in statuses:
            raise RegistryError(self.registry, f"{what}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def check(self) -> None:
        """The registry answers the API's base endpoint (fails fast with the registry named)."""
        self._expect(self._request("GET", f"{self.base}/"), 200, what="GET /v2/")

    def has_manifest(self, name: str, reference: str) -> bool:
        response = self._request("HEAD", f"{self.base}/{name}/manifests/{reference}", headers={"Accept": MEDIA_MANIFEST})
        return response.status_code == 200

    def held_by(self, name: str, digests: list[str]) -> None:
        """Remember that repository `name` holds these blobs (so pushes elsewhere mount them from it)."""
        for digest in digests:
            self._holders.setdefault(digest, name)

    def has_blob(self, name: str, digest: str) -> bool:
        return self._request("HEAD", f"{self.base}/{name}/blobs/{digest}").status_code == 200

    def mount_blob(self, name: str, digest: str) -> bool:
        """Link a blob another repository of this registry holds (e.g. the runtime base's layers into a model's
        repository) instead of uploading it again; False when the registry declines (then upload)."""
        source = self._holders.get(digest)
        if source is None or source == name:
            return False
        response = self._request("POST", f"{self.base}/{name}/blobs/uploads/", params={"mount": digest, "from": source})
        if response.status_code == 202:  # declined; the upload session it opened is left to expire
            return False
        self._expect(response, 201, what=f"mount {digest[:19]} from {source}")
        return True

    def upload_blob(self, name: str, blob: Blob, store: LayoutStore) -> None:
        """POST an upload session, then PUT the whole blob (streamed from disk) with its digest."""
        started = self._expect(self._request("POST", f"{self.base}/{name}/blobs/uploads/"), 202, what="start upload")
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.base.removesuffix("/v2") + location
        with open(store.path(blob.digest), "rb") as data:
            response = self._request("PUT", location, params={"digest": blob.digest}, data=data,
                                     headers={"Content-Type": "application/octet-stream",
                                              "Content-Length": str(blob.size)})
        self._expect(response, 201, what=f"upload {blob.digest[:19]}")

    def push(self, image: Image, store: LayoutStore) -> Pushed:
        """Every blob the registry lacks, then the manifest under the image's tag."""
        check_reference(image.name, image.tag)
        uploaded = skipped = mounted = 0
        for blob in (*image.layers, image.config):
            if self.has_blob(image.name, blob.digest):
                skipped += 1
            elif self.mount_blob(image.name, blob.digest):
                mounted += 1
            else:
                self.upload_blob(image.name, blob, store)
                uploaded += 1
            self._holders.setdefault(blob.digest, image.name)
        response = self._request("PUT", f"{self.base}/{image.name}/manifests/{image.tag}", data=image.manifest_bytes,
                                 headers={"Content-Type": MEDIA_MANIFEST})
        self._expect(response, 201, what=f"put manifest {image.reference}")
        digest = response.headers.get("Docker-Content-Digest", image.manifest.digest)
        if digest != image.manifest.digest:
            raise RegistryError(self.registry,
                                f"stored {image.reference} as {digest}, expected {image.manifest.digest}")
        log.info("pushed %s/%s (blobs: %d uploaded, %d mounted, %d present)", self.registry, image.reference, uploaded,
                 mounted, skipped)
        return Pushed(f"{self.registry}/{image.reference}@{digest}", digest, uploaded, skipped, mounted)

    def manifest(self, name: str, reference: str) -> tuple[dict, str]:
        """The manifest of `name:reference` and its digest, checked against the bytes received."""
        check_reference(name, reference if TAG.match(reference) else "digest")
        response = self._expect(self._request("GET", f"{self.base}/{name}/manifests/{reference}",
                                              headers={"Accept": MEDIA_MANIFEST}), 200, what=f"get manifest {name}")
        digest = f"sha256:{hashlib.sha256(response.content).hexdigest()}"
        claimed = response.headers.get("Docker-Content-Digest", digest)
        if claimed != digest:
            raise RegistryError(self.registry, f"manifest {name}:{reference} is {digest} but was sent as {claimed}")
        return response.json(), digest

    def blob(self, name: str, digest: str) -> bytes:
        """A (small) blob, e.g. a config, checked against its digest."""
        response = self._expect(self._request("GET", f"{self.base}/{name}/blobs/{digest}"), 200, what=f"get {digest}")
        if f"sha256:{hashlib.sha256(response.content).hexdigest()}" != digest:
            raise RegistryError(self.registry, f"blob {digest} came back with other content")
        return response.content

    def config(self, name: str, reference: str) -> dict:
        """The image config of `name:reference`, read through its manifest."""
        manifest, _ = self.manifest(name, reference)
        return json.loads(self.blob(name, manifest["config"]["digest"]))
