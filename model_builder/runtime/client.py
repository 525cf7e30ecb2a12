"""A V2 client for one served model over a Unix socket or TCP: the platform's way to call a runtime."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ..outputs import Output
from ..volume import Volume
from .codec import decode_response, encode_request
from .errors import ModelCallError


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class ModelClient:
    """Calls one model of a runtime; give `unix` (a socket path) or `host` and `port`. Not thread-safe."""

    def __init__(self, name: str, *, version: str | None = None, unix: str | None = None, host: str = "127.0.0.1",
                 port: int | None = None, timeout: float = 600.0) -> None:
        if (unix is None) == (port is None):
            raise ValueError("give exactly one of unix= (a socket path) or port=")
        self.name = name
        self.version = version
        self._connect = (lambda: _UnixConnection(unix, timeout)) if unix else \
            (lambda: http.client.HTTPConnection(host, port, timeout=timeout))
        self._connection: http.client.HTTPConnection | None = None

    @property
    def model_path(self) -> str:
        """/v2/models/{name}[/versions/{version}]."""
        path = f"/v2/models/{quote(self.name, safe='')}"
        return f"{path}/versions/{quote(self.version, safe='')}" if self.version else path

    def request(self, method: str, path: str, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        """One HTTP exchange on a kept-alive connection: status, body and headers."""
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again once
            if self._connection is None:
                self._connection = self._connect()
            try:
                self._connection.request(method, path, body=body or None, headers=dict(headers or {}))
                response = self._connection.getresponse()
                content = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, content, dict(response.getheaders())
        raise AssertionError("unreachable")

    def _json(self, path: str) -> Any:
        status, content, _ = self.request("GET", path)
        return _checked(status, content)

    def ready(self) -> bool:
        """Whether the model answers ready."""
        status, content, _ = self.request("GET", f"{self.model_path}/ready")
        return status == 200 and json.loads(content).get("ready") is True

    def metadata(self) -> dict[str, Any]:
        """The model's V2 metadata."""
        return self._json(self.model_path)

    def infer(self, volume: Volume) -> tuple[list[Output], dict[str, Any]]:
        """The model's outputs for `volume` and the response's parameters (timings); `ModelCallError` on refusal."""
        body, headers = encode_request(volume)
        status, content, reply_headers = self.request("POST", f"{self.model_path}/infer", body, headers)
        if status != 200:
            _checked(status, content)
        outputs = decode_response(content, reply_headers)
        length = int(reply_headers.get("Inference-Header-Content-Length", len(content)))
        return outputs, json.loads(content[:length]).get("parameters", {})

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _checked(status: int, content: bytes) -> Any:
    """The JSON body of a 200, else `ModelCallError` with the V2 error message."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if status != 200:
        message = data.get("error") if isinstance(data, dict) else None
        raise ModelCallError(status, message or content[:200].decode(errors="replace"))
    return data
