"""The deploy host: a root process owning a `LocalDeployer`, serving its API on a Unix socket (Knative's stand-in).

`python -m model_builder.deploy.host --socket PATH --state-dir DIR --bundles-root DIR [--user mcc-model]
[--group mcc] [--idle-seconds N] [--max-instances N] [--memory 4GiB]`

The platform's `models` function runs as `mcc-app` and can neither make cgroups nor switch users; it asks this
process instead, through a socket only the group may open. The host holds no platform keys: it only spawns sandboxes.

API: `PUT /services/{name}` (JSON spec), `GET /services`, `GET /services/{name}`, `DELETE /services/{name}`,
`POST /services/{name}/infer` (a V2 infer body and headers, passed through both ways). Errors: `{"error": ...}`
with 400, 404, 409, plus the `X-Deploy-Error` header naming the error's code.
"""

from __future__ import annotations

import argparse
import grp
import json
import logging
import os
import re
import signal
import socketserver
import stat
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from .errors import ERROR_HEADER, DeployError, SpecError
from .interfaces import Deployer, Reply, ServiceSpec
from .local import LocalDeployer
from .sandbox import SandboxConfig

logger = logging.getLogger(__name__)

MAX_SPEC_BYTES = 64 * 1024
MAX_INFER_BYTES = 2 * 1024**3
SERVICE_ROUTE = re.compile(r"^/services/(?P<name>[^/]+)(?P<infer>/infer)?$")
SIZE = re.compile(r"^\s*(?P<number>\d+(\.\d+)?)\s*(?P<unit>[KMGT]i?B?|B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes from '4GiB', '256MiB', '512M' or '1073741824' (K, M, G, T are powers of 1024)."""
    match = SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size: write e.g. 4GiB, 256MiB or a number of bytes")
    unit = (match.group("unit") or "B").upper()[0]
    power = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}[unit]
    return int(float(match.group("number")) * 1024**power)


def _json(status: int, content: object, **headers: str) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **headers}, json.dumps(content).encode())


def _error(error: DeployError) -> Reply:
    return _json(error.status, error.to_json(), **{ERROR_HEADER: error.code})


@dataclass
class HostApi:
    """The host's routes over a `Deployer`: request in, one call, response out (no HTTP plumbing here)."""

    deployer: Deployer
    bundles_roots: tuple[Path, ...]
    defaults: dict[str, Any] = field(default_factory=dict)  # spec fields the host fills in when a PUT leaves them out

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """The reply to one request."""
        try:
            return self._route(method, path.split("?", 1)[0], headers, body)
        except DeployError as error:
            return _error(error)
        except Exception:
            logger.exception("the deploy host failed on %s %s", method, path.split("?", 1)[0])
            return _json(500, {"error": "internal error of the deploy host (see its log)"})

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path in ("/services", "/services/"):
            if method != "GET":
                return _json(405, {"error": f"{path} answers GET, not {method}"}, Allow="GET")
            return _json(200, {"services": [s.to_json() for s in self.deployer.services()]})
        match = SERVICE_ROUTE.match(path)
        if match is None:
            return _json(404, {"error": f"no route {path}: use /services or /services/{{name}}[/infer]"})
        name = match.group("name")
        allowed = "POST" if match.group("infer") else "GET, PUT, DELETE"
        if method not in allowed.split(", "):
            return _json(405, {"error": f"{path} answers {allowed}, not {method}"}, Allow=allowed)
        if match.group("infer"):
            return self.deployer.infer(name, body, headers)
        if method == "GET":
            return _json(200, self.deployer.status(name).to_json())
        if method == "DELETE":
            self.deployer.undeploy(name)
            return _json(200, {"undeployed": name})
        self.deployer.deploy(self.spec(name, body))
        return _json(200, self.deployer.status(name).to_json())

    def spec(self, name: str, body: bytes) -> ServiceSpec:
        """The spec of a PUT, its bundle_dir inside an allowed root (resolved, so no link leads out)."""
        try:
            data = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SpecError("$", f"the body is not JSON: {error}") from error
        if isinstance(data, dict):
            data = {**self.defaults, **data}
            if isinstance(self.defaults.get("limits"), dict) and isinstance(data.get("limits"), dict):
                data["limits"] = {**self.defaults["limits"], **data["limits"]}
        spec = ServiceSpec.from_json(name, data)
        try:
            resolved = spec.bundle_dir.resolve(strict=True)
        except OSError:
            raise SpecError("bundle_dir", f"{spec.bundle_dir} does not exist: unpack the bundle first") from None
        if not any(resolved.is_relative_to(root) for root in self.bundles_roots):
            roots = ", ".join(str(root) for root in self.bundles_roots)
            raise SpecError("bundle_dir", f"{spec.bundle_dir} is outside the bundles root ({roots}); "
                                          "the host serves only bundles the platform unpacked there")
        return ServiceSpec.from_json(name, {**data, "bundle_dir": str(resolved)})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "medcloudcare-deploy-host"
    server: HostServer  # type: ignore[assignment]

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        logger.debug(format, *args)

    def _serve(self) -> None:
        limit = MAX_INFER_BYTES if self.path.endswith("/infer") else MAX_SPEC_BYTES
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            size = -1
        if size < 0 or size > limit or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            reply = _json(413 if size > limit else 411, {"error": f"send a Content-Length of at most {limit} bytes"})
        else:
            body = self.rfile.read(size)
            headers = {key: value for key, value in self.headers.items()}
            reply = self.server.api.handle(self.command, self.path, headers, body)
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)
        logger.info("%s %s -> %d", self.command, self.path.split("?", 1)[0], reply.status)

    do_GET = do_PUT = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming


class HostServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The API on a Unix socket created 0660, owned by root and `group` (who may call the host); the socket's path
    appears only once it accepts connections with that mode and group."""

    daemon_threads = True

    def __init__(self, socket_path: Path, api: HostApi, *, group: str | None = None) -> None:
        self.api = api
        self.socket_path = Path(socket_path)
        gid = grp.getgrnam(group).gr_gid if group is not None else -1  # KeyError before anything is made
        try:
            if stat.S_ISSOCK(self.socket_path.lstat().st_mode):
                self.socket_path.unlink()  # a stale socket of a host that died
        except FileNotFoundError:
            pass
        # Bound at a staging name and renamed once its mode and group are set: the socket never shows otherwise.
        staging = self.socket_path.with_name(f".{self.socket_path.name}.{os.getpid()}")
        previous = os.umask(0o117)  # born 0660: never a moment open to others
        try:
            super().__init__(str(staging), _Handler)
        finally:
            os.umask(previous)
        os.chmod(staging, 0o660)
        os.chown(staging, -1, gid)
        os.replace(staging, self.socket_path)
        self.server_address = str(self.socket_path)

    def server_close(self) -> None:
        """Stop listening and remove the socket."""
        super().server_close()
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model_builder.deploy.host", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, type=Path, help="the Unix socket to serve the API on")
    parser.add_argument("--state-dir", required=True, type=Path, help="where instances keep their run dirs and logs")
    parser.add_argument("--bundles-root", required=True, type=Path, action="append",
                        help="a directory bundles must be inside (repeatable)")
    parser.add_argument("--user", default="mcc-model", help="the unprivileged user instances run as")
    parser.add_argument("--group", default="mcc", help="the group that may open the socket (default mcc)")
    parser.add_argument("--idle-seconds", type=float, help="default idle time before an instance stops")
    parser.add_argument("--max-instances", type=int, help="default instances per service")
    parser.add_argument("--memory", type=parse_size, help="default memory limit per instance, e.g. 4GiB")
    parser.add_argument("--mechanism", choices=["cgroup2", "cgroup1", "rlimit"], help="force how limits are enforced")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then stop every instance; the exit status."""
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    defaults: dict[str, Any] = {}
    if args.idle_seconds is not None:
        defaults["idle_seconds"] = args.idle_seconds
    if args.max_instances is not None:
        defaults["max_instances"] = args.max_instances
    if args.memory is not None:
        defaults["limits"] = {"memory_bytes": args.memory}
    try:
        deployer = LocalDeployer(args.state_dir, config=SandboxConfig(user=args.user, mechanism=args.mechanism))
    except (DeployError, OSError) as error:
        logger.error("cannot start: %s", error)
        return 2
    roots = tuple(root.resolve() for root in args.bundles_root)
    try:
        server = HostServer(args.socket, HostApi(deployer, roots, defaults), group=args.group)
    except (KeyError, OSError) as error:
        logger.error("cannot serve on %s (group %s): %s", args.socket, args.group, error)
        deployer.close()
        return 2
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("deploy host serving on %s (bundles under %s, limits by %s)", args.socket,
                ", ".join(map(str, roots)), deployer.mechanism.value)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        deployer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
