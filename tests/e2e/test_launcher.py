"""Command 1's launcher: a second start is refused, Ctrl-C stops everything, data survives a restart."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from mcc_local.procs import free_port

from tests.e2e.conftest import ROOT, _wait_for_banner


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(env: dict, out: Path) -> subprocess.Popen:
    with open(out, "wb") as f:
        return subprocess.Popen([str(ROOT / "local-dev" / "up"), "--no-install"], env=env, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _demo_password(banner: str) -> str:
    return re.search(r"^\s+researcher\s+\S+\s+(\S+)$", banner, re.M).group(1)


def _wait_for_an_anchor(folder: Path, timeout: float = 60) -> None:
    """The launcher pins the audit log's head outside the database (here every second)."""
    deadline = time.monotonic() + timeout
    while not any(folder.glob("*.json")):
        assert time.monotonic() < deadline, f"no audit anchor in {folder}"
        time.sleep(0.2)


def _functions_hold_no_owner_password(state: Path, https_port: int) -> None:
    """The functions' processes connect as the runtime role; the schema owner's password stays with the launcher."""
    owner_password = (state / "secrets" / "db-password").read_text().strip()
    runtime_password = (state / "secrets" / "db-password-mcc_app").read_text().strip()
    environs = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"127.0.0.1:{https_port}".encode() in (proc / "cmdline").read_bytes():
                environs.append((proc / "environ").read_bytes())
        except OSError:
            continue
    assert environs, "no function process found"
    for environ in environs:
        assert owner_password.encode() not in environ
        assert f"mcc_app:{runtime_password}@".encode() in environ  # its own role, in MCC_DATABASE_URL


def test_restart_keeps_data_and_a_second_start_is_refused(e2e_smtp):
    state = Path(tempfile.mkdtemp(prefix="mcc-launcher-"))
    state.chmod(0o755)
    ports = {name: free_port() for name in ("HTTPS", "HTTP", "PG", "ORTHANC")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCC_")}
    env.update({f"MCC_{name}_PORT": str(port) for name, port in ports.items()})
    env.update({"MCC_STATE_DIR": str(state), "MCC_SMTP_HOST": "127.0.0.1", "MCC_SMTP_PORT": str(e2e_smtp.port),
                "MCC_WORKERS": "1", "MCC_AUDIT_ANCHOR_INTERVAL": "1", "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
    origin = f"https://127.0.0.1:{ports['HTTPS']}"
    first = _start(env, state / "first.out")
    try:
        password = _demo_password(_wait_for_banner(first, state / "first.out"))
        s = requests.Session()
        s.verify, s.trust_env = str(state / "tls" / "server.crt"), False  # the certificate it generated
        r = s.post(f"{origin}/api/auth/login", json={"email": "researcher@demo.medcloudcare.local",
                                                     "password": password, "client": "api"})
        assert r.status_code == 200, r.text
        r = s.patch(f"{origin}/api/auth/me", json={"name": "Renamed Before Restart"},
                    headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert r.status_code == 200
        _wait_for_an_anchor(state / "objects" / "audit-anchors")
        _functions_hold_no_owner_password(state, ports["HTTPS"])

        second = subprocess.run([str(ROOT / "local-dev" / "up"), "--no-install"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert s.get(f"{origin}/api/auth/readyz").status_code == 200  # the first one is untouched

        first.send_signal(signal.SIGINT)
        assert first.wait(60) == 0
        for port in ports.values():
            assert not _listening(port), f"port {port} still open after Ctrl-C"

        again = _start(env, state / "again.out")
        try:
            banner = _wait_for_banner(again, state / "again.out")
            assert _demo_password(banner) == password
            r = s.post(f"{origin}/api/auth/login", json={"email": "researcher@demo.medcloudcare.local",
                                                         "password": password, "client": "api"})
            assert r.status_code == 200 and r.json()["user"]["name"] == "Renamed Before Restart"
            down = subprocess.run([str(ROOT / "local-dev" / "down")], env=env, capture_output=True, timeout=60)
            assert down.returncode == 0
            assert again.wait(60) == 0
            assert not _listening(ports["HTTPS"]) and not _listening(ports["PG"])
        finally:
            if again.poll() is None:
                os.killpg(again.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)
