"""Servers that run inside this process: the start/stop contract they share, and a WSGI app served from a
daemon thread (the launcher's HTTP → HTTPS redirect, the tests' origin and OpenID provider)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["Service", "ThreadedWsgiServer"]


class Service:
    """Started by start() and stopped by stop(), both idempotent; `with service:` runs it for a block."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ThreadedWsgiServer(Service):
    """A WSGI app on 127.0.0.1:`port` (0: a free one the OS picks), served from a daemon thread."""

    def __init__(
        self,
        app: WSGIApplication,
        port: int = 0,
        *,
        name: str = "wsgi",
        ssl_context: tuple[str, str] | None = None,
        request_handler: type[WSGIRequestHandler] | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port: {port} is not a TCP port number")
        self.app = app
        self.name = name
        self._requested_port = port
        self._ssl_context = ssl_context
        self._request_handler = request_handler
        self._poll_interval = poll_interval  # how long stop() may wait for the serving loop to notice
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The port served on (the chosen one once started with port 0)."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started; call start() first")
        return self._server.server_port

    def start(self) -> None:
        """Bind the port and serve from a daemon thread; idempotent."""
        if self._server is not None:
            return
        self._server = make_server("127.0.0.1", self._requested_port, self.app, threaded=True,
                                   ssl_context=self._ssl_context, request_handler=self._request_handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True,
                                        kwargs={"poll_interval": self._poll_interval})
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port; idempotent."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
