"""The one HTTP client to Orthanc. Only the gateway uses it; Orthanc is never exposed directly."""

from __future__ import annotations

import functools

import requests

from functions.common.platform.config import get_settings
from functions.common.platform.errors import ServiceUnavailable


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
        self.session.trust_env = False
        # Every request thread of a worker and each one's upload threads share this pool.
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=64))
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=64))  # never through a proxy: Orthanc is on the platform's network only
        if username:
            self.session.auth = (username, password or "")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        try:
            return self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as e:
            raise ServiceUnavailable("The image archive is not reachable; try again shortly.") from e

    def store_instance(self, part10: bytes) -> tuple[str, bool]:
        """Store one instance: Orthanc's id for it, and whether this call created it (False when the same
        instance was already there). Safe to call from several threads: Orthanc stores them in parallel."""
        resp = self.request("POST", "/instances", data=part10, headers={"Content-Type": "application/dicom"})
        if resp.status_code != 200:
            raise ServiceUnavailable(f"The archive refused the instance (HTTP {resp.status_code}).")
        answer = resp.json()
        return answer["ID"], answer.get("Status") != "AlreadyStored"

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
