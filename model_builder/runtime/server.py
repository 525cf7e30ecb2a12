"""The HTTP plumbing: a threaded stdlib server on a Unix socket or a loopback port, one inference at a time."""

from __future__ import annotations

import logging
import os
import socketserver
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from .errors import PayloadTooLarge
from .service import ModelService, Reply, Route, error_reply, route

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 2 * 1024 ** 3
_CHUNK = 1024 * 1024
_UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL


class _Handler(BaseHTTPRequestHandler):
    """Answers V2 requests for the server's `service`; keep-alive, so clients reuse connections."""

    protocol_version = "HTTP/1.1"
    server_version = "medcloudcare-model-runtime"
    timeout = 600  # seconds an idle or stalled connection may hold its thread
    server: ModelServer  # type: ignore[assignment]

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "unix"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        log.info("%s %s -> %d (%d bytes)", self.command, self.path.split("?", 1)[0], reply.status, len(reply.body))

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it (`Expect: 100-continue`)."""
        size = self.headers.get("Content-Length", "")
        if size.isdigit() and int(size) > self.server.max_request_bytes:
            self.close_connection = True
            self._send(error_reply(413, PayloadTooLarge(int(size), self.server.max_request_bytes).detail))
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        with self.server.in_flight():
            self._send(self._answer(self._get))

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        with self.server.in_flight():
            self._send(self._answer(self._post))

    def _answer(self, handler: Callable[[], Reply]) -> Reply:
        try:
            return handler()
        except Exception:
            log.exception("the runtime failed on %s %s", self.command, self.path.split("?", 1)[0])
            self.close_connection = True
            return error_reply(500, "internal error of the model runtime (see its log)")

    def _get(self) -> Reply:
        found = route("GET", self.path)
        if isinstance(found, Reply):
            return found
        service = self.server.service
        return service.server_endpoint(found.endpoint) if not found.name else service.model_endpoint(found)

    def _post(self) -> Reply:
        found = route("POST", self.path)
        if isinstance(found, Reply):
            self._discard_body()
            return found
        return self._infer(found)

    def _infer(self, found: Route) -> Reply:
        service = self.server.service
        if missing := service.check_model(found):
            self._discard_body()
            return missing
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return error_reply(411, "send the request with a Content-Length, not chunked")
        try:
            size = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return error_reply(411, "the infer request needs a Content-Length header")
        if size > self.server.max_request_bytes:
            self._discard_body(size)
            return error_reply(413, PayloadTooLarge(size, self.server.max_request_bytes).detail)
        with service.lock:
            body = self._read(size)
            if body is None:
                self.close_connection = True
                return error_reply(400, f"the body ended before its Content-Length of {size} bytes")
            return service.infer(body, self.headers)

    def _read(self, size: int) -> bytearray | None:
        """The body in a writable buffer (models may modify their input array in place), or None if cut short."""
        body = bytearray(size)
        view, done = memoryview(body), 0
        while done < size:
            n = self.rfile.readinto(view[done:done + _CHUNK])
            if not n:
                return None
            done += n
        return body

    def _discard_body(self, size: int | None = None) -> None:
        """Read and drop an unwanted body so the client sees our answer instead of a reset connection."""
        if size is None:
            try:
                size = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                size = 0
        while size > 0:
            chunk = self.rfile.read(min(size, _CHUNK))
            if not chunk:
                break
            size -= len(chunk)


class _Draining(socketserver.ThreadingMixIn):
    """Counts requests being answered, so a stopping server can let them finish (idle connections do not count)."""

    daemon_threads = True
    service: ModelService
    max_request_bytes: int

    def _setup(self, service: ModelService, max_request_bytes: int) -> None:
        self.service = service
        self.max_request_bytes = max_request_bytes
        self._busy = 0
        self._idle = threading.Condition()

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Mark one request as being answered."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no request is being answered; False if `timeout` seconds passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


class ModelServer(_Draining, socketserver.TCPServer):
    """A V2 server over TCP; `UnixModelServer` is the same over a Unix socket."""

    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: ModelService, *,
                 max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._setup(service, max_request_bytes)
        super().__init__(address, _Handler)


class UnixModelServer(_Draining, socketserver.UnixStreamServer):
    """A V2 server on a Unix socket that appears at its path only once it accepts connections."""

    def __init__(self, path: str | Path, service: ModelService, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._setup(service, max_request_bytes)
        self.path = Path(path)
        staging = self.path.parent / f".{os.getpid()}.sock"
        for candidate in (self.path, staging):
            if len(os.fsencode(candidate)) > _UNIX_PATH_MAX:
                raise ValueError(f"the socket path {candidate} is {len(os.fsencode(candidate))} bytes; Unix sockets"
                                 f" allow at most {_UNIX_PATH_MAX}: choose a shorter --unix path")
        _check_socket_path(self.path)
        _remove_socket(staging)
        super().__init__(str(staging), _Handler)  # binds and listens on the staging path
        os.replace(staging, self.path)  # atomic: the final path exists only once connections are accepted
        self.server_address = str(self.path)

    def server_close(self) -> None:
        """Stop listening and remove the socket file."""
        super().server_close()
        _remove_socket(self.path)


def _check_socket_path(path: Path) -> None:
    """Refuse a path holding anything but a (stale) socket, which the new one replaces."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"{path} exists and is not a socket: choose another --unix path")


def _remove_socket(path: Path) -> None:
    """Remove a socket file; anything else at the path stays."""
    try:
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
    except FileNotFoundError:
        pass
