"""Servers inside this process: a WSGI app served from a daemon thread for the length of a `with` block."""

from __future__ import annotations

import pytest
import requests
from mcc_local.serving import ThreadedWsgiServer


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback, whatever proxy the environment names
    return session


def test_an_app_is_served_on_a_free_port_for_the_block_and_the_port_is_freed_after(http):
    server = ThreadedWsgiServer(hello, name="hello", poll_interval=0.05)
    with server:
        server.start()  # idempotent
        assert http.get(f"http://127.0.0.1:{server.port}/", timeout=5).text == "hello"
        port = server.port
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.1:{port}/", timeout=5)
    server.stop()  # idempotent


def test_the_port_is_unknown_until_started():
    with pytest.raises(RuntimeError, match="call start"):
        _ = ThreadedWsgiServer(hello, name="hello").port


def test_a_port_out_of_range_is_refused():
    with pytest.raises(ValueError, match="port"):
        ThreadedWsgiServer(hello, 70000)
