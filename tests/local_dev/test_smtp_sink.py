"""The local SMTP sink keeps mail and logs the links a user would click."""

from __future__ import annotations

import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from mcc_local.procs import free_port, wait_for_port
from mcc_local.smtp_sink import SmtpSink, https_links

VERIFY_LINK = "https://localhost:8443/verify?token=abc123&user=42"


def verification_mail(to: str = "ada@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@medcloudcare.test"
    message["To"] = to
    message["Subject"] = "Confirm your e-mail address"
    message.set_content(f"Hello,\n\nconfirm your address: {VERIFY_LINK}.\n")
    message.add_alternative(
        f'<p>Hello, <a href="{VERIFY_LINK.replace("&", "&amp;")}">confirm</a></p>', subtype="html"
    )
    return message


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(port=0, log_links=True) as running:
        yield running


def send(sink: SmtpSink, message: EmailMessage) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=5) as client:
        client.send_message(message)


def test_port_zero_picks_a_free_loopback_port(sink: SmtpSink) -> None:
    assert sink.port > 0
    assert sink.host == "127.0.0.1"


def test_sent_message_is_kept_and_parsed(sink: SmtpSink) -> None:
    send(sink, verification_mail())
    received = sink.wait_for(lambda m: m["To"] == "ada@example.org", timeout=5)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "Confirm your e-mail address"
    assert VERIFY_LINK in received.get_body(("plain",)).get_content()
    assert len(sink.messages) == 1


def test_recipients_subject_and_links_are_logged(
    sink: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="mcc_local.smtp_sink"):
        send(sink, verification_mail("grace@example.org"))
        sink.wait_for(lambda m: True, timeout=5)
    records = [r.getMessage() for r in caplog.records if r.name == "mcc_local.smtp_sink"]
    mail_logs = [line for line in records if "grace@example.org" in line]
    assert len(mail_logs) == 1
    assert "Confirm your e-mail address" in mail_logs[0]
    assert VERIFY_LINK in mail_logs[0]
    assert f"{VERIFY_LINK}." not in mail_logs[0]


def test_links_are_not_logged_unless_asked(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="mcc_local.smtp_sink"),
        SmtpSink(log_links=False) as quiet,
    ):
        send(quiet, verification_mail())
        quiet.wait_for(lambda m: True, timeout=5)
    assert not any("token=" in r.getMessage() for r in caplog.records)


def test_wait_for_times_out_with_a_count(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="0 message"):
        sink.wait_for(lambda m: True, timeout=0.2)


def test_https_links_are_distinct_and_ignore_plain_http() -> None:
    message = verification_mail()
    message.get_body(("plain",)).set_content(
        f"{VERIFY_LINK}\nagain {VERIFY_LINK}\nnot this http://example.org/x\n"
    )
    assert https_links(message) == [VERIFY_LINK]


def test_stop_closes_the_port() -> None:
    sink = SmtpSink()
    sink.start()
    port = sink.port
    sink.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_as_its_own_process_it_prints_the_links_and_stops_on_sigterm(tmp_path):
    """How the launcher runs it: `python -m mcc_local.smtp_sink PORT`, output on the launcher's terminal."""
    root = Path(__file__).resolve().parents[2]
    port = free_port()
    out = tmp_path / "out.txt"
    with open(out, "wb") as f:
        process = subprocess.Popen([sys.executable, "-m", "mcc_local.smtp_sink", str(port)], stdout=f,
                                   stderr=subprocess.STDOUT, cwd=root,
                                   env={**os.environ, "PYTHONPATH": f"{root}:{root / 'local-dev'}"})
    try:
        wait_for_port(port, 30, alive=lambda: process.poll() is None)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(verification_mail())
        deadline = time.monotonic() + 30
        while VERIFY_LINK not in out.read_text():
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
