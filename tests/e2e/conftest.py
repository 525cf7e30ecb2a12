"""The real platform started by command 1's launcher, and a real headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcc_local.procs import free_port, scratch_dir
from mcc_local.smtp_sink import SmtpSink
from playwright.sync_api import Browser, sync_playwright

from tests.support.api_client import ApiClient

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# --ignore-certificate-errors: the origins under test (loopback only) have self-signed certificates made per run.
# Playwright's ignore_https_errors alone makes Chromium fail each new TLS connection on the certificate and restart
# the request; the origins answer `Connection: close`, so every request does that, and on a loaded machine Chromium
# gave up on some (net::ERR_TOO_MANY_RETRIES: OHIF's lazy CSS chunks, leaving it without a viewport).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic", "--ignore-certificate-errors"]


@dataclass
class LivePlatform:
    url: str
    process: subprocess.Popen
    logins: dict[str, tuple[str, str]]
    output: Path
    state: Path

    def signed_in(self, role: str) -> ApiClient:
        """An API client signed in as the launcher's demo account of `role` (no second factor for demo logins)."""
        email, password = self.logins[role]
        client = ApiClient(self.url, ca=str(self.state / "tls" / "server.crt"))
        r = client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        return client


def _wait_for_banner(process: subprocess.Popen, output: Path, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        if "MedCloudCare is running." in text:
            return text
        if process.poll() is not None:
            raise AssertionError(f"launcher exited with {process.returncode}:\n{text[-4000:]}")
        time.sleep(0.3)
    raise AssertionError("launcher did not come up in time:\n" + output.read_text(errors="replace")[-4000:])


@pytest.fixture(scope="session")
def e2e_smtp() -> Iterator[SmtpSink]:
    with SmtpSink(0, log_links=False) as sink:
        yield sink


@pytest.fixture(scope="session")
def live_platform(e2e_smtp: SmtpSink) -> Iterator[LivePlatform]:
    """`local-dev/up --no-install` in a fresh state dir, on free ports, mail to the tests' SMTP server."""
    with scratch_dir("mcc-e2e-") as state:
        https = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MCC_")}
        env.update({
            "MCC_STATE_DIR": str(state), "MCC_HTTPS_PORT": str(https), "MCC_HTTP_PORT": str(free_port()),
            "MCC_PG_PORT": str(free_port()), "MCC_ORTHANC_PORT": str(free_port()),
            "MCC_SMTP_HOST": "127.0.0.1", "MCC_SMTP_PORT": str(e2e_smtp.port), "MCC_WORKERS": "1",
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        })
        output = state / "launcher.out"
        with open(output, "wb") as out:
            process = subprocess.Popen([str(ROOT / "local-dev" / "up"), "--no-install"], env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        try:
            banner = _wait_for_banner(process, output)
            logins = {m[0]: (m[1], m[2]) for m in re.findall(
                r"^\s+(admin|researcher|health_professional)\s+(\S+)\s+(\S+)$", banner, re.M)}
            yield LivePlatform(f"https://localhost:{https}", process, logins, output, state)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
