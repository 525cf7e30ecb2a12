"""The one HTTP client to Orthanc. Only the gateway uses it; Orthanc is never exposed directly.

Idempotent calls (reads, lookups, deletes, and storing the same bytes again) are retried on connection
errors and 5xx answers, with bounded, jittered backoff. What the archive still cannot answer is
`ArchiveUnavailable` (503 with Retry-After: busy or down, try again); a 4xx is `ArchiveRefused`, which
keeps only the status: Orthanc's own error bodies (its URIs, error codes, messages) never leave here.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlencode

import requests
import urllib3

from functions.common.platform.config import get_settings
from functions.common.platform.errors import ServiceUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER = 5          # seconds a client is asked to wait when the archive is busy or down
ATTEMPTS = 4             # tries of an idempotent call, the first included
BACKOFF = 0.1            # seconds before the first retry, doubled each time (full jitter) ...
BACKOFF_CAP = 1.0        # ... up to this: at most ~0.7 s of waiting in all
_Answer = TypeVar("_Answer")
TIMEOUT = (5, 60)        # connect, read (a hung archive is not retried: it would only hang again)
IDEMPOTENT = ("GET", "HEAD", "DELETE")


class ArchiveUnavailable(ServiceUnavailable):
    """The archive did not answer (down, unreachable, or busy with 5xx after every retry)."""

    def __init__(self) -> None:
        super().__init__("The image archive is busy or unreachable; try again shortly.",
                         headers={"Retry-After": str(RETRY_AFTER)})


class ArchiveRefused(Exception):
    """The archive answered 4xx (or 501); its body is dropped, the caller says what it means for its request."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the image archive refused the request (HTTP {status})")
        self.status = status


class OrthancClient:
    def __init__(self, base_url: str, username: str | None, password: str | None, *, public_url: str,
                 attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts, self.backoff = attempts, backoff
        self.session = requests.Session()
        # Orthanc builds the URLs in its answers (RetrieveURL, Content-Location) from this header,
        # so they name the platform's public origin, never the archive's internal address.
        scheme, host = public_url.split("://", 1)
        self.session.headers["Forwarded"] = f"proto={scheme};host={host.split('/')[0]}"
        # Byte-exact streaming: no compressed answers to re-inflate (and no decompression bombs).
        self.session.headers["Accept-Encoding"] = "identity"
        self.session.trust_env = False  # never through a proxy: Orthanc is on the platform's network only
        # Every request thread of a worker and each one's upload threads share this pool.
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=64))
        self.session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=64))
        if username:
            self.session.auth = (username, password or "")

    def request(self, method: str, path: str, *, params: Sequence[tuple[str, str]] = (),
                idempotent: bool | None = None, **kwargs) -> requests.Response:
        """A successful answer; `ArchiveRefused` for a 4xx, `ArchiveUnavailable` when the archive does not answer.

        `params` go into the query string with literal commas: Orthanc 1.10 does not decode %2C, so
        `viewport=64%2C64` would be one malformed value. `idempotent` defaults to the method's nature;
        POSTs that are safe to repeat (a lookup, storing the same bytes) say so."""
        url = self.base_url + path + ("?" + urlencode(list(params), safe=",") if params else "")
        retry = method in IDEMPOTENT if idempotent is None else idempotent
        kwargs.setdefault("timeout", TIMEOUT)
        return self._attempts(method, retry, lambda: self.session.request(method, url, **kwargs),
                              status=lambda r: r.status_code, close=lambda r: r.close(),
                              resend_on=(requests.ConnectionError,), give_up_on=(requests.RequestException,))

    def read(self, path: str) -> bytes:
        """The whole body of a GET through the session's own connection pool and headers, without requests'
        per-call work (about 0.6 ms of CPU a call: a 200-slice series read fetches 200 files)."""
        url = self.base_url + path
        pool = self.session.get_adapter(url).poolmanager
        headers = dict(self.session.headers)
        if self.session.auth:
            headers.update(urllib3.util.make_headers(basic_auth=":".join(self.session.auth)))
        timeout = urllib3.Timeout(connect=TIMEOUT[0], read=TIMEOUT[1])
        answer = self._attempts("GET", True, lambda: pool.request("GET", url, headers=headers, retries=False,
                                                                 redirect=False, timeout=timeout),
                                status=lambda r: r.status, close=lambda r: r.release_conn(),
                                resend_on=(urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError),
                                give_up_on=(urllib3.exceptions.HTTPError,))
        return answer.data

    def _attempts(self, method: str, retry: bool, send: Callable[[], _Answer], *, status: Callable[[_Answer], int],
                  close: Callable[[_Answer], None], resend_on: tuple[type[Exception], ...],
                  give_up_on: tuple[type[Exception], ...]) -> _Answer:
        """`send()`'s successful answer: sent again (if `retry`) when nothing was answered or the archive answered
        5xx; `ArchiveRefused` for a 4xx, `ArchiveUnavailable` when the archive does not answer or hangs."""
        for attempt in range(1, self.attempts + 1):
            try:
                answer = send()
            except resend_on as e:  # refused, reset, closed: nothing was answered
                failure: Exception | None = e
            except give_up_on as e:  # a read timeout: the archive hangs
                raise ArchiveUnavailable() from e
            else:
                if status(answer) < 500 or status(answer) == 501:
                    break
                close(answer)
                failure = None
            if not retry or attempt == self.attempts:
                log.warning("image archive unavailable", extra={"method": method, "attempts": attempt})
                raise ArchiveUnavailable() from failure
            time.sleep(random.uniform(0, min(BACKOFF_CAP, self.backoff * 2 ** (attempt - 1))))
        if status(answer) >= 400:
            close(answer)
            raise ArchiveRefused(status(answer))
        return answer

    def store_instance(self, part10: bytes) -> tuple[str, bool]:
        """Store one instance: Orthanc's id for it, and whether this call created it (False when the same
        instance was already there). Safe to call from several threads: Orthanc stores them in parallel.

        Storing the same bytes twice is harmless, so the call is retried; a retry after a lost answer sees
        "already stored" and reports not created, which errs on the side of never removing another
        request's copy."""
        answer = self.request("POST", "/instances", data=part10, headers={"Content-Type": "application/dicom"},
                              idempotent=True).json()
        return answer["ID"], answer.get("Status") != "AlreadyStored"

    def has_instance(self, orthanc_id: str) -> bool:
        """Whether the archive holds this instance now."""
        try:
            self.request("GET", f"/instances/{orthanc_id}").close()
        except ArchiveRefused as e:
            if e.status == 404:
                return False
            raise
        return True

    def delete_instance(self, orthanc_id: str) -> None:
        self._delete(f"/instances/{orthanc_id}")

    def delete_study(self, study_uid: str) -> None:
        found = self.request("POST", "/tools/lookup", data=study_uid, idempotent=True).json()
        for item in found:
            if item.get("Type") == "Study":
                self._delete(f"/studies/{item['ID']}")

    def _delete(self, path: str) -> None:
        """Remove a resource; one already gone (or refused) leaves nothing to do."""
        try:
            self.request("DELETE", path)
        except ArchiveRefused as e:
            if e.status != 404:
                log.warning("the image archive refused a removal", extra={"status": e.status})


def instance_id(patient_id: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    """The archive's id of an instance, known without asking it: Orthanc names an instance by the SHA-1 of the
    PatientID, Study, Series and SOP Instance UIDs it was stored with."""
    digest = hashlib.sha1("|".join((patient_id, study_uid, series_uid, sop_uid)).encode()).hexdigest()
    return "-".join(digest[i:i + 8] for i in range(0, 40, 8))


@functools.cache
def _client(url: str, user: str | None, password: str | None, public_url: str) -> OrthancClient:
    return OrthancClient(url, user, password, public_url=public_url)


def orthanc() -> OrthancClient:
    s = get_settings()
    return _client(s.orthanc_url, s.orthanc_username, s.orthanc_password, s.public_url)
