"""What every benchmark needs: a throwaway platform, clients to it, percentiles, timings and peak memory.

Import it after putting the project root and local-dev on sys.path, as the benchmark scripts do.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import requests
from mcc_local.launcher import Platform, Ports
from mcc_local.procs import free_port, scratch_dir

T = TypeVar("T")
PASSWORD = "Velvet-otter-climbs-27-glaciers"
TOKEN_REFRESH_S = 120  # access tokens live MCC_ACCESS_TOKEN_TTL (300 s by default); renew well before


@contextmanager
def throwaway_platform(*, keep_state: bool = False) -> Iterator[Platform]:
    """A platform on free ports in a fresh state directory, as local-dev runs it; not started (call `up()`), always
    stopped, and its state removed afterwards unless `keep_state`."""
    with scratch_dir("mcc-bench-", keep=keep_state) as state:
        ports = Ports(https=free_port(), http=free_port(), postgres=free_port(), orthanc=free_port(),
                      smtp=free_port())
        os.environ["MCC_SMTP_SINK"] = "1"
        platform = Platform(state, ports)
        try:
            yield platform
        finally:
            platform.down()
            if not keep_state:
                shutil.rmtree(platform.pg.socket_dir, ignore_errors=True)  # PostgreSQL's socket dir, outside state


def http_session() -> requests.Session:
    """A keep-alive client for the platform's self-signed TLS, ignoring any proxy settings."""
    s = requests.Session()
    s.verify = False
    s.trust_env = False
    return s


class Gateway:
    """The platform origin as an API client: Bearer token of one user, renewed before it expires."""

    def __init__(self, origin: str, public_url: str, email: str) -> None:
        self.origin, self.public_url, self.email = origin, public_url, email
        self.session = http_session()
        self._token, self._at = "", 0.0

    def headers(self, **extra: str) -> dict[str, str]:
        if time.monotonic() - self._at > TOKEN_REFRESH_S:
            r = self.session.post(self.origin + "/api/auth/login", headers={"Origin": self.public_url},
                                  json={"email": self.email, "password": PASSWORD, "client": "api"})
            assert r.status_code == 200 and r.json().get("status") == "ok", r.text
            self._token, self._at = r.json()["access_token"], time.monotonic()
        return {"Authorization": f"Bearer {self._token}", **extra}


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[int(round(q * (len(ordered) - 1)))]


def timed(label: str, fn: Callable[[], T]) -> T:
    """Run fn, print how long it took under `label`, return what it returned."""
    t0 = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def peak_rss_mb(pid: int) -> dict[int, float]:
    """VmHWM (peak resident set) of `pid`, then of its direct children, in MB."""
    peaks = {}
    for p in (pid, *_children(pid)):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[p] = int(line.split()[1]) / 1024
        except OSError:
            pass
    return peaks


def _children(pid: int) -> Iterator[int]:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            yield int(stat.parent.name)
