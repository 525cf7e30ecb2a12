"""A function served by its own process behind the origin: requests under its prefix pass through to it.

The `auth` function runs apart from the others (as its own OS user, the only one holding the token-signing
key); the origin forwards `/api/auth/...` to it over loopback, adding the client's address to
X-Forwarded-For (the function trusts exactly one proxy more than the origin does) and streaming both bodies.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote, urlsplit

# Hop-by-hop headers (RFC 9110 §7.6.1) end at each hop; Host names the upstream's own address.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host"}
# How a kept-alive connection fails when the upstream closed it while idle (or a reader left it unread).
_STALE = (http.client.RemoteDisconnected, http.client.ResponseNotReady, http.client.CannotSendRequest,
          BrokenPipeError, ConnectionResetError)
_CHUNK = 1 << 16
TIMEOUT_S = 60


class Upstream:
    """WSGI app forwarding every request to `base_url` (http://127.0.0.1:port), one kept-alive connection per
    thread; an upstream that does not answer becomes 503 problem+json with Retry-After."""

    def __init__(self, base_url: str, *, ca_file: str | None = None) -> None:
        """`ca_file`: the CA that signs the upstreams' certificates, for https:// upstreams (Knative's
        cluster-local-domain-tls); plain http:// stays for loopback and for a cluster whose mesh encrypts."""
        parts = urlsplit(base_url)
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost") and parts.port
        # On Knative the functions are cluster-local services (<name>.<namespace>.svc.cluster.local): never an
        # address outside the cluster.
        cluster_local = bool(parts.hostname) and parts.hostname.endswith(".svc.cluster.local")
        if parts.scheme not in ("http", "https") or not (loopback or cluster_local) or parts.path not in ("", "/"):
            raise ValueError(f"upstream: {base_url!r} must be http://127.0.0.1:<port> (loopback) or "
                             "http(s)://<service>.<namespace>.svc.cluster.local (a cluster-local service)")
        if parts.scheme == "https" and not ca_file:
            raise ValueError(f"upstream: {base_url!r} is https: give the CA file that signs its certificate")
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
        self._local = threading.local()

    def _send(self, method: str, target: str, body: bytes | None, headers: dict) -> http.client.HTTPResponse:
        """Send on this thread's kept-alive connection; one the upstream closed while idle is replaced once (the
        request never reached it); a fresh connection that fails is not retried."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            try:
                conn.request(method, target, body=body, headers=headers)
                return conn.getresponse()
            except _STALE:
                conn.close()
        conn = self._local.conn = (
            http.client.HTTPSConnection(self.host, self.port, timeout=TIMEOUT_S, context=self._tls) if self._tls
            else http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S))
        try:
            conn.request(method, target, body=body, headers=headers)
            return conn.getresponse()
        except BaseException:
            conn.close()
            self._local.conn = None
            raise

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "/"), safe="/:@!$&'()*+,;=-._~%")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        headers = _request_headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read() if chunked else None
        if chunked:
            headers["Content-Length"] = str(len(body))
        try:
            response = self._send(environ["REQUEST_METHOD"], target, body, headers)
        except (OSError, http.client.HTTPException):
            return _unavailable(start_response)
        start_response(f"{response.status} {response.reason}",
                       [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP])
        return _stream(response)


def _request_headers(environ: dict) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
               if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = environ[key]
    forwarded = headers.get("X-Forwarded-For")
    client = environ.get("REMOTE_ADDR", "")
    headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
    headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "https")
    return headers


def _stream(response: http.client.HTTPResponse) -> Iterator[bytes]:
    while chunk := response.read(_CHUNK):
        yield chunk


def _unavailable(start_response: Callable) -> Iterable[bytes]:
    body = json.dumps({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                       "detail": "This service is not answering; try again shortly."}).encode()
    start_response("503 Service Unavailable", [("Content-Type", "application/problem+json"),
                                                ("Content-Length", str(len(body))), ("Retry-After", "2")])
    return [body]
