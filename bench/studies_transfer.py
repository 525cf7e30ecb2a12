"""The studies benchmark's pixel traffic: STOW-RS throughput and WADO-RS frame latency, each through the gateway
and straight into (or out of) Orthanc, alternately, on the same data."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import requests
from harness import Gateway, http_session
from mcc_local.launcher import Platform
from mcc_local.procs import ProcessGroup, free_port, wait_for_http, write_private_file

BOUNDARY = "mcc-bench-boundary-7d1f"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"'


def orthanc_session(auth: tuple[str, str]) -> requests.Session:
    """A client to Orthanc that asks what the gateway's client asks: no gzip (Orthanc 1.10 compresses by
    default, which alone makes a 512x512 frame 4x slower and would flatter the gateway)."""
    s = http_session()
    s.auth = auth
    s.headers["Accept-Encoding"] = "identity"
    return s


# ------------------------------------------------------------------------------------------------- STOW


@dataclass
class StowFigures:
    seconds: float
    megabytes: float
    instances: int

    @property
    def mb_s(self) -> float:
        return self.megabytes / self.seconds

    @property
    def per_s(self) -> float:
        return self.instances / self.seconds


def multipart(parts: Sequence[bytes]) -> bytes:
    """A STOW-RS body: each Part 10 instance as an application/dicom part."""
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    return b"".join(head + p + b"\r\n" for p in parts) + f"--{BOUNDARY}--\r\n".encode()


def batches(items: Sequence[bytes], size: int) -> list[list[bytes]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def stow_both(gw: Gateway, orthanc_url: str, orthanc_auth: tuple[str, str], via_gateway: list[bytes],
              direct: list[bytes], batch: int) -> tuple[StowFigures, StowFigures]:
    """Store two equal-sized series, one through the gateway and one into Orthanc, batch by batch alternately."""
    direct_session = orthanc_session(orthanc_auth)
    times = {"gateway": 0.0, "direct": 0.0}
    pairs = list(zip(batches(via_gateway, batch), batches(direct, batch), strict=True))
    for i, (gw_parts, direct_parts) in enumerate(pairs):
        gw_body, direct_body = multipart(gw_parts), multipart(direct_parts)
        runs = [("gateway", gw_body, len(gw_parts)), ("direct", direct_body, len(direct_parts))]
        for where, body, count in (runs if i % 2 == 0 else runs[::-1]):  # alternate who goes first
            if where == "gateway":
                url, headers, s = gw.origin + "/dicom-web/studies", gw.headers(), gw.session
            else:
                url, headers, s = orthanc_url + "/dicom-web/studies", {}, direct_session
            t0 = time.perf_counter()
            r = s.post(url, data=body, headers={**headers, "Content-Type": STOW_TYPE,
                                                "Accept": "application/dicom+json"}, timeout=600)
            times[where] += time.perf_counter() - t0
            _check_stow(r, count, where)
    mb_gw, mb_direct = sum(map(len, via_gateway)) / 1e6, sum(map(len, direct)) / 1e6
    return (StowFigures(times["gateway"], mb_gw, len(via_gateway)),
            StowFigures(times["direct"], mb_direct, len(direct)))


def _check_stow(resp: requests.Response, expected: int, where: str) -> None:
    assert resp.status_code == 200, f"{where} STOW answered {resp.status_code}: {resp.text[:500]}"
    body = resp.json()
    body = body[0] if isinstance(body, list) else body
    stored = len(body.get("00081199", {}).get("Value", []))
    failed = len(body.get("00081198", {}).get("Value", []))  # Orthanc sends an empty sequence
    assert not failed and stored == expected, f"{where} STOW stored {stored}/{expected}: {resp.text[:500]}"


# ----------------------------------------------------------------------------------------------- frames


def frame_paths(instances: Sequence[bytes]) -> list[str]:
    """The DICOMweb path of frame 1 of each Part 10 instance."""
    from pydicom import dcmread

    paths = []
    for raw in instances:
        ds = dcmread(io.BytesIO(raw), stop_before_pixels=True)
        paths.append(f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                     f"/instances/{ds.SOPInstanceUID}/frames/1")
    return paths


IDENTITY = {"Accept-Encoding": "identity"}


def frame_latencies(gw: Gateway, archives: dict[str, tuple[str, tuple[str, str]]], paths: Sequence[str],
                    min_bytes: int) -> dict[str, list[float]]:
    """Frame 1 of every instance via the gateway and straight from the archive by each route (name → (base URL,
    auth)), in rotating order; a warm-up pass that also checks all answer the same pixels, then measured (ms).
    Uncompressed both ways (`Accept-Encoding: identity`): the gateway gzips native frames for clients that accept
    it, which pays over a hospital link (bench/viewer_network_bench.py) but is CPU on loopback; this compares the
    two request paths like for like."""
    sessions = {name: orthanc_session(auth) for name, (_, auth) in archives.items()}

    def fetch(where: str, path: str) -> tuple[float, bytes]:
        if where == "gateway":
            s, url, headers = gw.session, gw.origin + path, gw.headers(Accept=FRAME_ACCEPT, **IDENTITY)
        else:
            s, url, headers = sessions[where], archives[where][0] + path, {"Accept": FRAME_ACCEPT, **IDENTITY}
        t0 = time.perf_counter()
        r = s.get(url, headers=headers, timeout=60)
        content = r.content
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200 and len(content) >= min_bytes, f"{where} frame {r.status_code} {r.text[:300]}"
        return elapsed, content

    def pixels(body: bytes) -> bytes:  # the one part's payload (each answer has its own boundary)
        return body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]

    order = ["gateway", *archives]
    for path in paths:  # warm-up: connections, Orthanc's storage cache, the gateway's imports and pools
        answers = {where: pixels(fetch(where, path)[1]) for where in order}
        assert len(set(answers.values())) == 1, f"the gateway and Orthanc sent different frames for {path}"
    times: dict[str, list[float]] = {where: [] for where in order}
    for i, path in enumerate(paths):
        for where in order[i % len(order):] + order[:i % len(order)]:  # rotate who goes first
            times[where].append(fetch(where, path)[0])
    return times


def start_tls_terminator(state: Path, platform: Platform, procs: ProcessGroup) -> str:
    """stunnel with the platform's certificate in front of Orthanc: Orthanc over TLS, like for like with the
    gateway (Debian's Orthanc 1.10.1 crashes serving HTTPS itself). Returns its base URL."""
    cert, key = platform._tls()
    port = free_port()
    orthanc_port = urlparse(platform.orthanc.url).port
    conf = state / "stunnel.conf"
    write_private_file(conf, f"foreground = yes\npid =\n[orthanc]\naccept = 127.0.0.1:{port}\n"
                             f"connect = 127.0.0.1:{orthanc_port}\ncert = {cert}\nkey = {key}\n")
    procs.start("stunnel", [shutil.which("stunnel4") or "stunnel4", str(conf)])
    wait_for_http(f"https://127.0.0.1:{port}/system", 20, ready=lambda status: status in (200, 401))
    return f"https://127.0.0.1:{port}"
