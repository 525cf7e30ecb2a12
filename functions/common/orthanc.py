"""The one HTTP client to Orthanc. Only the gateway uses it; Orthanc is never exposed directly."""

from __future__ import annotations

import functools

import requests

from functions.common.config import get_settings
from functions.common.errors import ServiceUnavailable


class OrthancClient:
    def __init__(self, base_url: str, username: str | None, password: str | None, *, public_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        # Orthanc builds the URLs in its answers (RetrieveURL, Content-Location) from this header,
        # so they name the platform's public origin, never the archive's internal address.
        scheme, host = public_url.split("://", 1)
        self.session.headers["Forwarded"] = f"proto={scheme};host={host.split('/')[0]}"
        # Byte-exact streaming: no compressed answers to re-inflate (and no decompression bombs).
        self.session.headers["Accept-Encoding"] = "identity"
        self.session.trust_env = False  # never through a proxy: Orthanc is on the platform's network only
        if username:
            self.session.auth = (username, password or "")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        try:
            return self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as e:
            raise ServiceUnavailable("The image archive is not reachable; try again shortly.") from e

    def store(self, part10: bytes) -> str:
        """Store one instance; return Orthanc's instance id (idempotent for the same SOP instance)."""
        resp = self.request("POST", "/instances", data=part10, headers={"Content-Type": "application/dicom"})
        if resp.status_code != 200:
            raise ServiceUnavailable(f"The archive refused the instance (HTTP {resp.status_code}).")
        return resp.json()["ID"]

    def delete_instance(self, orthanc_id: str) -> None:
        self.request("DELETE", f"/instances/{orthanc_id}")

    def delete_study(self, study_uid: str) -> None:
        found = self.request("POST", "/tools/lookup", data=study_uid).json()
        for item in found:
            if item.get("Type") == "Study":
                self.request("DELETE", f"/studies/{item['ID']}")


@functools.cache
def _client(url: str, user: str | None, password: str | None, public_url: str) -> OrthancClient:
    return OrthancClient(url, user, password, public_url=public_url)


def orthanc() -> OrthancClient:
    s = get_settings()
    return _client(s.orthanc_url, s.orthanc_username, s.orthanc_password, s.public_url)
