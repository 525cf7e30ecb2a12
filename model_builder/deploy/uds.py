"""HTTP/1.1 over a Unix socket with the standard library: the instances' and the deploy host's transport."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterable

# Hop-by-hop headers (RFC 9110 §7.6.1) and those http.client sets itself: never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade", "host", "content-length"})


class UnixHTTPConnection(http.client.HTTPConnection):
    """An `http.client.HTTPConnection` whose transport is the Unix socket at `socket_path`."""

    def __init__(self, socket_path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def end_to_end(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers worth passing on: hop-by-hop ones dropped, repeated ones joined."""
    kept: dict[str, str] = {}
    for name, value in headers:
        if name.lower() in HOP_BY_HOP:
            continue
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


def request(socket_path: str, method: str, url: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, end-to-end headers, body). OSError/HTTPException on failure."""
    connection = UnixHTTPConnection(socket_path, timeout=timeout)
    try:
        connection.request(method, url, body=body, headers=end_to_end((headers or {}).items()))
        response = connection.getresponse()
        data = response.read()
        return response.status, end_to_end(response.getheaders()), data
    finally:
        connection.close()
