"""The Orthanc client on its own: idempotent calls are retried while the archive is busy, a busy archive is
told from one that refuses, and nothing of a refusal's body is kept.

The archive here is a stand-in for an overloaded Orthanc: a real HTTP server on loopback that answers 503
to its first few requests, then as Orthanc would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mcc_local.procs import free_port

from functions.common.dicom.orthanc import ATTEMPTS, RETRY_AFTER, ArchiveRefused, ArchiveUnavailable, OrthancClient


@dataclass
class OverloadedArchive:
    """Answers `busy` requests with 503, then `status` with `body`; counts what it was asked."""

    busy: int = 0
    status: int = 200
    body: dict = field(default_factory=lambda: {"ID": "stand-in-id", "Status": "Success"})
    hits: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def overloaded() -> Iterator[OverloadedArchive]:
    archive = OverloadedArchive()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            archive.hits.append(f"{self.command} {self.path}")
            status = 503 if len(archive.hits) <= archive.busy else archive.status
            payload = json.dumps(archive.body if status < 400 else {"OrthancError": "secret internals",
                                                                    "Uri": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    archive.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield archive
    server.shutdown()
    server.server_close()


def _client(url: str) -> OrthancClient:
    return OrthancClient(url, "mcc", "pw", public_url="https://localhost:8443", backoff=0.01)


def test_reads_lookups_and_stores_are_retried_until_the_archive_answers(overloaded):
    overloaded.busy = ATTEMPTS - 1
    assert _client(overloaded.url).request("GET", "/system").json()["ID"] == "stand-in-id"
    assert len(overloaded.hits) == ATTEMPTS
    overloaded.hits.clear()
    assert _client(overloaded.url).store_instance(b"DICM") == ("stand-in-id", True)
    assert overloaded.hits == ["POST /instances"] * ATTEMPTS


def test_an_archive_busy_for_every_attempt_is_unavailable_with_retry_after(overloaded):
    overloaded.busy = 100
    with pytest.raises(ArchiveUnavailable) as caught:
        _client(overloaded.url).request("GET", "/system")
    assert len(overloaded.hits) == ATTEMPTS
    assert caught.value.status == 503 and caught.value.headers["Retry-After"] == str(RETRY_AFTER)


def test_a_call_that_is_not_safe_to_repeat_is_tried_once(overloaded):
    overloaded.busy = 1
    with pytest.raises(ArchiveUnavailable):
        _client(overloaded.url).request("POST", "/tools/execute-script", data=b"x")
    assert len(overloaded.hits) == 1


def test_a_refusal_is_not_retried_and_keeps_nothing_of_orthancs_answer(overloaded):
    overloaded.status = 400
    with pytest.raises(ArchiveRefused) as caught:
        _client(overloaded.url).request("GET", "/dicom-web/studies/1.2.3/metadata")
    assert len(overloaded.hits) == 1 and caught.value.status == 400
    assert "secret" not in str(caught.value) and "1.2.3" not in str(caught.value)


def test_an_unreachable_archive_is_unavailable_after_the_retries():
    with pytest.raises(ArchiveUnavailable):
        _client(f"http://127.0.0.1:{free_port()}").request("GET", "/system")


def test_query_parameters_keep_their_commas(overloaded):
    """Orthanc 1.10 reads `viewport=64%2C64` as one malformed value: commas go as they are."""
    _client(overloaded.url).request("GET", "/r", params=[("viewport", "64,64"), ("window", "40.0,400.0,linear")])
    assert overloaded.hits == ["GET /r?viewport=64,64&window=40.0,400.0,linear"]


def test_a_lean_read_is_retried_sends_the_clients_headers_and_refuses_like_a_request(overloaded):
    seen: list[dict[str, str]] = []
    overloaded.busy = ATTEMPTS - 1
    client = _client(overloaded.url)
    original = client.session.get_adapter(overloaded.url).poolmanager.request

    def recording(method, url, **kwargs):
        seen.append({key.lower(): value for key, value in kwargs["headers"].items()})
        return original(method, url, **kwargs)

    client.session.get_adapter(overloaded.url).poolmanager.request = recording
    assert json.loads(client.read("/instances/x/file"))["ID"] == "stand-in-id"
    assert overloaded.hits == ["GET /instances/x/file"] * ATTEMPTS
    assert seen[0]["authorization"] == "Basic bWNjOnB3"  # mcc:pw, as the session sends it
    assert seen[0]["accept-encoding"] == "identity" and seen[0]["forwarded"] == "proto=https;host=localhost:8443"
    overloaded.hits.clear()
    overloaded.busy, overloaded.status = 0, 404
    with pytest.raises(ArchiveRefused) as caught:
        client.read("/instances/gone/file")
    assert len(overloaded.hits) == 1 and caught.value.status == 404 and "secret" not in str(caught.value)


def test_a_lean_read_of_an_unreachable_or_busy_archive_is_unavailable(overloaded):
    with pytest.raises(ArchiveUnavailable):
        _client(f"http://127.0.0.1:{free_port()}").read("/instances/x/file")
    overloaded.busy = 100
    with pytest.raises(ArchiveUnavailable) as caught:
        _client(overloaded.url).read("/instances/x/file")
    assert len(overloaded.hits) == ATTEMPTS and caught.value.headers["Retry-After"] == str(RETRY_AFTER)
