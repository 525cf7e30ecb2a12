"""Ports picked up front for several servers must all differ (the kernel may offer a closed port again)."""

from __future__ import annotations

import socket

from mcc_local.procs import free_port


def test_ports_handed_out_never_repeat_and_are_bindable():
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[-1]))
