"""A local SMTP server that keeps mail instead of delivering it, and shows its links."""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .serving import Service

logger = logging.getLogger("mcc_local.smtp_sink")  # also when run as __main__

_HTTPS_URL = re.compile(r"https://[^\s<>\"'`]+")
_TRAILING_PUNCTUATION = ".,;:!?)]}"


def https_links(message: EmailMessage) -> list[str]:
    """Every distinct https URL in the text and HTML parts of `message`, in order."""
    links: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        try:
            body = part.get_content()
        except (LookupError, ValueError):
            continue
        if part.get_content_subtype() == "html":
            body = html.unescape(body)
        for match in _HTTPS_URL.findall(body):
            link = match.rstrip(_TRAILING_PUNCTUATION)
            if link not in links:
                links.append(link)
    return links


class _Handler:
    """aiosmtpd handler that hands each parsed message to the sink."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw or "").encode("utf-8")
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self._sink._received(message, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):
    """Controller that binds its own socket, so port 0 yields a real, race-free port."""

    def _create_server(self) -> Any:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.hostname, self.port))
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)


class SmtpSink(Service):
    """SMTP on 127.0.0.1 that stores every message; with `log_links`, logs their https links."""

    def __init__(self, port: int = 0, *, log_links: bool = True) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port: {port} is not a TCP port number")
        self._requested_port = port
        self.log_links = log_links
        self._messages: list[EmailMessage] = []
        self._condition = threading.Condition()
        self._controller: _LoopbackController | None = None

    @property
    def host(self) -> str:
        """Address the sink listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """Port the sink listens on (the chosen one once started with port 0)."""
        if self._controller is not None:
            return int(self._controller.port)
        return self._requested_port

    @property
    def messages(self) -> list[EmailMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._condition:
            return list(self._messages)

    def start(self) -> None:
        """Start listening in a background thread; idempotent."""
        if self._controller is not None:
            return
        controller = _LoopbackController(
            _Handler(self),
            hostname=self.host,
            port=self._requested_port,
            loop=asyncio.new_event_loop(),
        )
        controller.start()
        self._controller = controller
        logger.info("SMTP sink listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Stop listening; received messages stay available. Idempotent."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None
        logger.info("SMTP sink stopped")

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._condition:
            self._messages.clear()

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], timeout: float = 10
    ) -> EmailMessage:
        """Return the first received message matching `predicate`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching message within {timeout} s "
                        f"({len(self._messages)} message(s) received)"
                    )
                self._condition.wait(remaining)

    def _received(self, message: EmailMessage, recipients: list[str]) -> None:
        with self._condition:
            self._messages.append(message)
            self._condition.notify_all()
        if self.log_links:
            # Showing these links is the sink's purpose: it replaces a mailbox locally.
            logger.info(
                "mail to %s: %r links: %s",
                ", ".join(recipients),
                str(message.get("Subject", "")),
                " ".join(https_links(message)) or "(none)",
            )


def main(argv: list[str] | None = None) -> int:
    """`python -m mcc_local.smtp_sink PORT`: the local platform's mail, logging each message's links, until
    SIGTERM (the launcher runs it as the origin's unprivileged user, its output on the launcher's terminal)."""
    parser = argparse.ArgumentParser(prog="mcc_local.smtp_sink", description=main.__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd chatter; the links are logged here
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with SmtpSink(args.port, log_links=True):
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
