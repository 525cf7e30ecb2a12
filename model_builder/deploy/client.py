"""`HostClient`: the `Deployer` protocol spoken to the deploy host over its Unix socket (what `mcc-app` uses)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import uds
from .errors import ERROR_HEADER, DeployError, HostUnavailable, error_from_json
from .interfaces import Reply, ServiceSpec, ServiceStatus


class HostClient:
    """A `Deployer` whose instances live in the deploy host at `socket_path`; typed errors cross over intact."""

    def __init__(self, socket_path: str | Path, *, timeout: float | None = None) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout  # None: wait as long as the service's own limits let a request run

    def deploy(self, spec: ServiceSpec) -> None:
        """Register `spec` with the host (scaled to zero)."""
        data = spec.to_json()
        del data["name"]
        self._json("PUT", f"/services/{quote(spec.name, safe='')}", json.dumps(data).encode())

    def infer(self, name: str, body: bytes, headers: dict[str, str]) -> Reply:
        """Forward a V2 infer request; the model's reply (or the deployer's V2 error) comes back as it is."""
        status, reply_headers, content = self._request("POST", f"/services/{quote(name, safe='')}/infer", body,
                                                       headers)
        if any(key.lower() == ERROR_HEADER.lower() for key in reply_headers):
            raise self._error(status, content)
        return Reply(status, reply_headers, content)

    def undeploy(self, name: str) -> None:
        """Stop every instance of `name` and forget it."""
        self._json("DELETE", f"/services/{quote(name, safe='')}")

    def status(self, name: str) -> ServiceStatus:
        """The state of one service."""
        return ServiceStatus.from_json(self._json("GET", f"/services/{quote(name, safe='')}"))

    def services(self) -> list[ServiceStatus]:
        """The state of every service."""
        return [ServiceStatus.from_json(item) for item in self._json("GET", "/services")["services"]]

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        try:
            return uds.request(self.socket_path, method, path, body, headers, timeout=self.timeout)
        except (OSError, http.client.HTTPException) as error:
            raise HostUnavailable(self.socket_path, f"{type(error).__name__}: {error}") from error

    def _json(self, method: str, path: str, body: bytes | None = None) -> Any:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, content = self._request(method, path, body, headers)
        if status >= 400:
            raise self._error(status, content)
        try:
            return json.loads(content)
        except ValueError as error:
            raise HostUnavailable(self.socket_path, f"answered {status} with a body that is not JSON") from error

    def _error(self, status: int, content: bytes) -> DeployError:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict):
            error = error_from_json(data)
            if error is not None:
                return error
            return DeployError(f"the deploy host answered {status}: {data.get('error', data)}")
        return HostUnavailable(self.socket_path, f"answered {status} with a body that is not JSON")
