"""Studies benchmark: STOW throughput and WADO-RS frame latency via the gateway vs Orthanc direct, QIDO at scale.

Starts a throwaway platform (private PostgreSQL, encrypted Orthanc, gunicorn behind TLS, exactly as
local-dev runs it), then prints, from one run on the same data:
- STOW-RS throughput of one synthetic CT series (default 200 slices of 512x512, ~100 MB) stored
  through the gateway (HTTPS, Bearer token of an approved health professional) and, with fresh
  UIDs, straight into Orthanc's own DICOMweb STOW, in identical multipart/related batches sent
  alternately; MB/s, instances/s and the ratio gateway / direct (target >= 0.7);
- WADO-RS frame latency: frame 1 of every instance of the gateway-stored series (the very same
  instances in Orthanc), fetched sequentially over keep-alive sessions, gateway and Orthanc
  alternately, after a warm-up pass; p50/p95 of both and their ratios (target <= 1.3);
- QIDO-RS study search and the portal's study list (GET /api/studies, which also counts the total)
  with --studies synthetic studies indexed for the benchmark user plus as many for another user:
  by patient-name prefix, exact PatientID, date range, modality and unfiltered, limit 25;
  p50/p95 over --requests requests each (target p95 <= 50 ms).
It ends with a table of every figure against its target, and the peak memory of each process.

Usage: .venv/bin/python bench/studies_bench.py [--slices 200] [--rows 512] [--studies 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev")]

from mcc_local.dicomgen import Patient as GeneratedPatient  # noqa: E402
from mcc_local.dicomgen import ct_series, to_bytes  # noqa: E402
from mcc_local.launcher import Platform, Ports  # noqa: E402
from mcc_local.procs import free_port  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from index_seed import STUDY_KINDS, SeededPatient, seed_index, seed_shares  # noqa: E402

T = TypeVar("T")
PASSWORD = "Velvet-otter-climbs-27-glaciers"
BOUNDARY = "mcc-bench-boundary-7d1f"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"'
TOKEN_REFRESH_S = 120  # access tokens live MCC_ACCESS_TOKEN_TTL (300 s by default); renew well before


# ----------------------------------------------------------------------------------------------- helpers


def _session() -> requests.Session:
    s = requests.Session()
    s.verify = False
    s.trust_env = False
    return s


def _orthanc_session(auth: tuple[str, str]) -> requests.Session:
    """A client to Orthanc that asks what the gateway's client asks: no gzip (Orthanc 1.10 compresses by
    default, which alone makes a 512x512 frame 4x slower and would flatter the gateway)."""
    s = _session()
    s.auth = auth
    s.headers["Accept-Encoding"] = "identity"
    return s


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank, as auth_bench reports p95."""
    ordered = sorted(values)
    return ordered[int(round(q * (len(ordered) - 1)))]


def multipart(parts: Sequence[bytes]) -> bytes:
    """A STOW-RS body: each Part 10 instance as an application/dicom part."""
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    return b"".join(head + p + b"\r\n" for p in parts) + f"--{BOUNDARY}--\r\n".encode()


def batches(items: Sequence[bytes], size: int) -> list[list[bytes]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class Gateway:
    """The platform origin as an API client: Bearer token of one user, renewed before it expires."""

    def __init__(self, origin: str, public_url: str, email: str) -> None:
        self.origin, self.public_url, self.email = origin, public_url, email
        self.session = _session()
        self._token, self._at = "", 0.0

    def headers(self, **extra: str) -> dict[str, str]:
        if time.monotonic() - self._at > TOKEN_REFRESH_S:
            r = self.session.post(self.origin + "/api/auth/login", headers={"Origin": self.public_url},
                                  json={"email": self.email, "password": PASSWORD, "client": "api"})
            assert r.status_code == 200 and r.json().get("status") == "ok", r.text
            self._token, self._at = r.json()["access_token"], time.monotonic()
        return {"Authorization": f"Bearer {self._token}", **extra}


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


def _check_stow(resp: requests.Response, expected: int, where: str) -> None:
    assert resp.status_code == 200, f"{where} STOW answered {resp.status_code}: {resp.text[:500]}"
    body = resp.json()
    body = body[0] if isinstance(body, list) else body
    stored = len(body.get("00081199", {}).get("Value", []))
    failed = len(body.get("00081198", {}).get("Value", []))  # Orthanc sends an empty sequence
    assert not failed and stored == expected, f"{where} STOW stored {stored}/{expected}: {resp.text[:500]}"


def stow_both(gw: Gateway, orthanc_url: str, orthanc_auth: tuple[str, str], via_gateway: list[bytes],
              direct: list[bytes], batch: int) -> tuple[StowFigures, StowFigures]:
    """Store two equal-sized series, one through the gateway and one into Orthanc, batch by batch alternately."""
    direct_session = _orthanc_session(orthanc_auth)
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


def frame_paths(instances: Sequence[bytes]) -> list[str]:
    """The DICOMweb path of frame 1 of each Part 10 instance."""
    from pydicom import dcmread

    paths = []
    for raw in instances:
        ds = dcmread(io.BytesIO(raw), stop_before_pixels=True)
        paths.append(f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
                     f"/instances/{ds.SOPInstanceUID}/frames/1")
    return paths


def frame_latencies(gw: Gateway, archives: dict[str, tuple[str, tuple[str, str]]], paths: Sequence[str],
                    min_bytes: int) -> dict[str, list[float]]:
    """Frame 1 of every instance via the gateway and straight from the archive by each route (name → (base URL,
    auth)), in rotating order; a warm-up pass that also checks all answer the same pixels, then measured (ms)."""
    sessions = {name: _orthanc_session(auth) for name, (_, auth) in archives.items()}

    def fetch(where: str, path: str) -> tuple[float, bytes]:
        if where == "gateway":
            s, url, headers = gw.session, gw.origin + path, gw.headers(Accept=FRAME_ACCEPT)
        else:
            s, url, headers = sessions[where], archives[where][0] + path, {"Accept": FRAME_ACCEPT}
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


def start_tls_terminator(state: Path, platform: Platform, procs) -> str:
    """stunnel with the platform's certificate in front of Orthanc: Orthanc over TLS, like for like with the
    gateway (Debian's Orthanc 1.10.1 crashes serving HTTPS itself). Returns its base URL."""
    from mcc_local.procs import wait_for_http, write_private_file

    cert, key = platform._tls()
    port = free_port()
    orthanc_port = urlparse(platform.orthanc.url).port
    conf = state / "stunnel.conf"
    write_private_file(conf, f"foreground = yes\npid =\n[orthanc]\naccept = 127.0.0.1:{port}\n"
                             f"connect = 127.0.0.1:{orthanc_port}\ncert = {cert}\nkey = {key}\n")
    procs.start("stunnel", [shutil.which("stunnel4") or "stunnel4", str(conf)])
    wait_for_http(f"https://127.0.0.1:{port}/system", 20, ready=lambda status: status in (200, 401))
    return f"https://127.0.0.1:{port}"


# ------------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class Query:
    kind: str
    qido: dict[str, str | int]
    portal: dict[str, str | int]


def search_queries(patients: Sequence[SeededPatient], rng: random.Random, n: int) -> list[Query]:
    """n searches cycling through the kinds a user runs: name prefix, exact ID, date range, modality, none."""
    modalities = sorted({m for kind in STUDY_KINDS for m in kind[0]})
    out = []
    for i in range(n):
        kind = ("name", "patient_id", "date_range", "modality", "unfiltered")[i % 5]
        if kind == "name":
            surname = rng.choice(patients).name.split("^")[0]
            prefix = surname[: rng.randint(2, 4)]
            out.append(Query(kind, {"PatientName": f"{prefix}*"}, {"patient_name": f"{prefix}*"}))
        elif kind == "patient_id":
            pid = rng.choice(patients).patient_id
            out.append(Query(kind, {"PatientID": pid}, {"patient_id": pid}))
        elif kind == "date_range":
            start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(10 * 365))
            end = start + dt.timedelta(days=rng.choice((7, 30, 90)))
            out.append(Query(kind, {"StudyDate": f"{start:%Y%m%d}-{end:%Y%m%d}"},
                             {"date_from": start.isoformat(), "date_to": end.isoformat()}))
        elif kind == "modality":
            m = rng.choice(modalities)
            out.append(Query(kind, {"ModalitiesInStudy": m}, {"modality": m}))
        else:
            out.append(Query(kind, {}, {}))
    return out


@dataclass
class SearchFigures:
    """Per API ("qido", "portal") and query kind: latencies (ms) and result counts."""

    ms: dict[str, dict[str, list[float]]]
    hits: dict[str, dict[str, list[int]]]

    def every(self, api: str) -> list[float]:
        return [ms for values in self.ms[api].values() for ms in values]


def search_latencies(gw: Gateway, queries: Sequence[Query], warmup: int) -> SearchFigures:
    """Each query via QIDO-RS and via the portal list, alternately, limit 25, after `warmup` untimed ones."""
    figures = SearchFigures({"qido": {}, "portal": {}}, {"qido": {}, "portal": {}})

    def run(api: str, q: Query) -> tuple[float, int]:
        if api == "qido":
            url, params, accept = "/dicom-web/studies", {**q.qido, "limit": 25}, "application/dicom+json"
        else:
            url, params, accept = "/api/studies", {**q.portal, "limit": 25}, "application/json"
        headers = gw.headers(Accept=accept)
        t0 = time.perf_counter()
        r = gw.session.get(gw.origin + url, params=params, headers=headers, timeout=30)
        body = r.json()
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, f"{api} {params}: {r.status_code} {r.text[:300]}"
        return elapsed, len(body if api == "qido" else body["items"])

    for q in queries[:warmup]:
        run("qido", q)
        run("portal", q)
    for i, q in enumerate(queries):
        for api in (("qido", "portal") if i % 2 == 0 else ("portal", "qido")):
            ms, n = run(api, q)
            figures.ms[api].setdefault(q.kind, []).append(ms)
            figures.hits[api].setdefault(q.kind, []).append(n)
    return figures


def check_decrypts(gw: Gateway, patient: SeededPatient) -> None:
    """A QIDO hit carries the original patient name and ID (the sealed originals open)."""
    r = gw.session.get(gw.origin + "/dicom-web/studies", params={"PatientID": patient.patient_id},
                       headers=gw.headers(Accept="application/dicom+json"), timeout=30)
    assert r.status_code == 200 and r.json(), r.text[:300]
    item = r.json()[0]
    assert item["00100010"]["Value"][0]["Alphabetic"] == patient.name, item
    assert item["00100020"]["Value"][0] == patient.patient_id, item


# ------------------------------------------------------------------------------------------------ memory


def _children(pid: int) -> Iterator[int]:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            yield int(stat.parent.name)


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


# -------------------------------------------------------------------------------------------------- main


def timed(label: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    out = fn()
    print(f"  {label}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200, help="instances of the CT series (default 200)")
    parser.add_argument("--rows", type=int, default=512, help="rows and columns of each slice (default 512)")
    parser.add_argument("--batch", type=int, default=20, help="instances per STOW request (default 20)")
    parser.add_argument("--studies", type=int, default=10_000, help="indexed studies per user (default 10000)")
    parser.add_argument("--requests", type=int, default=200, help="timed searches per API (default 200)")
    parser.add_argument("--shares", type=int, default=1000,
                        help="the other user's studies shared with the benchmark user, half through a group (default 1000)")
    parser.add_argument("--keep-state", action="store_true", help="keep the throwaway platform's state directory")
    args = parser.parse_args()
    if args.slices < 2 or args.batch < 1 or args.studies < 10 or args.requests < 5:
        parser.error("need --slices >= 2, --batch >= 1, --studies >= 10 and --requests >= 5")
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    print(f"Generating 2 CT series of {args.slices} x {args.rows}x{args.rows} …", flush=True)
    patient = GeneratedPatient(name="BENCH^CT", patient_id="BENCH-CT-1")

    def generate() -> list[bytes]:
        return [to_bytes(ds) for ds in ct_series(patient, slices=args.slices, rows=args.rows, columns=args.rows)]

    via_gateway = timed("series for the gateway", generate)
    direct = timed("series for Orthanc direct (fresh UIDs)", generate)
    warm_gw = [to_bytes(ds) for ds in ct_series(patient, slices=2, rows=args.rows, columns=args.rows)]
    warm_direct = [to_bytes(ds) for ds in ct_series(patient, slices=2, rows=args.rows, columns=args.rows)]

    state = Path(tempfile.mkdtemp(prefix="mcc-bench-"))
    state.chmod(0o755)
    ports = Ports(https=free_port(), http=free_port(), postgres=free_port(), orthanc=free_port(), smtp=free_port())
    os.environ["MCC_SMTP_SINK"] = "1"
    platform = Platform(state, ports)
    rows: list[tuple[str, str, str, bool]] = []
    try:
        timed("platform up", platform.up)
        from sqlalchemy import text

        from functions.auth import accounts
        from functions.common import db

        email = "bench-doctor@example.org"
        with db.session_scope() as session:
            me = accounts.create_user(session, email=email, name="Dr Bench", role="health_professional",
                                      password=PASSWORD, email_verified=True, status="active").id
            other = accounts.create_user(session, email="other-doctor@example.org", name="Dr Other",
                                         role="health_professional", password=None, email_verified=True,
                                         status="active").id
        gw = Gateway(f"https://127.0.0.1:{ports.https}", platform.public_url, email)
        orthanc_url, orthanc_auth = platform.orthanc.url, tuple(platform.orthanc.credentials)

        # 1. STOW-RS ------------------------------------------------------------------------------
        print(f"\nSTOW-RS: {args.slices} instances in batches of {args.batch}, gateway and direct alternately",
              flush=True)
        stow_both(gw, orthanc_url, orthanc_auth, warm_gw, warm_direct, args.batch)  # warm-up, not counted
        paths = frame_paths(via_gateway)
        t0 = time.perf_counter()
        s_gw, s_direct = stow_both(gw, orthanc_url, orthanc_auth, via_gateway, direct, args.batch)
        print(f"  stored: {time.perf_counter() - t0:.1f} s", flush=True)
        via_gateway = direct = []  # 200 MB the rest of the run does not need
        stow_ratio = s_gw.mb_s / s_direct.mb_s
        print(f"  via gateway:    {s_gw.mb_s:6.1f} MB/s  {s_gw.per_s:6.1f} instances/s  "
              f"({s_gw.megabytes:.0f} MB in {s_gw.seconds:.1f} s)")
        print(f"  Orthanc direct: {s_direct.mb_s:6.1f} MB/s  {s_direct.per_s:6.1f} instances/s  "
              f"({s_direct.megabytes:.0f} MB in {s_direct.seconds:.1f} s)")
        print(f"  ratio gateway / direct: {stow_ratio:.2f} (target >= 0.7)")
        rows.append(("STOW throughput, gateway / direct", f"{stow_ratio:.2f}", ">= 0.7", stow_ratio >= 0.7))

        # 2. WADO-RS frames -----------------------------------------------------------------------
        print(f"\nWADO-RS frames: frame 1 of {len(paths)} instances, warm-up pass then measured", flush=True)
        tls_url = start_tls_terminator(state, platform, platform.procs)
        archives = {"direct": (orthanc_url, orthanc_auth), "direct over TLS": (tls_url, orthanc_auth)}
        frames = timed("fetched", lambda: frame_latencies(gw, archives, paths, args.rows * args.rows * 2))
        f_gw, f_direct, f_tls = frames["gateway"], frames["direct"], frames["direct over TLS"]
        p50_ratio = pct(f_gw, 0.5) / pct(f_direct, 0.5)
        p95_ratio = pct(f_gw, 0.95) / pct(f_direct, 0.95)
        print(f"  via gateway:    p50 {pct(f_gw, 0.5):6.1f} ms  p95 {pct(f_gw, 0.95):6.1f} ms")
        print(f"  Orthanc direct: p50 {pct(f_direct, 0.5):6.1f} ms  p95 {pct(f_direct, 0.95):6.1f} ms")
        print(f"  Orthanc behind TLS (stunnel, the gateway's certificate): p50 {pct(f_tls, 0.5):6.1f} ms  "
              f"p95 {pct(f_tls, 0.95):6.1f} ms")
        print(f"  ratio gateway / direct: p50 {p50_ratio:.2f}, p95 {p95_ratio:.2f} (target <= 1.3)")
        tls_p50, tls_p95 = pct(f_gw, 0.5) / pct(f_tls, 0.5), pct(f_gw, 0.95) / pct(f_tls, 0.95)
        print(f"  ratio gateway / Orthanc behind TLS (like for like): p50 {tls_p50:.2f}, p95 {tls_p95:.2f}")
        rows.append(("WADO frame p50, gateway / Orthanc over TLS", f"{tls_p50:.2f}", "info", True))
        rows.append(("WADO frame p50, gateway / direct", f"{p50_ratio:.2f}", "<= 1.3", p50_ratio <= 1.3))
        rows.append(("WADO frame p95, gateway / direct", f"{p95_ratio:.2f}", "<= 1.3", p95_ratio <= 1.3))

        # 3. QIDO-RS and the portal list over a large index -----------------------------------------
        print(f"\nSearch: {args.studies} studies for the benchmark user, {args.studies} for another user, "
              f"{args.shares} of those shared with the benchmark user", flush=True)
        rng = random.Random(4)
        mine = timed("indexed (benchmark user)", lambda: seed_index(me, args.studies, rng, tag="BM"))
        timed("indexed (other user)", lambda: seed_index(other, args.studies, rng, tag="OT"))
        shared = timed(f"{args.shares} of the other user's studies shared with the benchmark user",
                       lambda: seed_shares(other, me, args.shares, rng))
        with db.engine().begin() as conn:
            conn.execute(text("ANALYZE patients; ANALYZE studies; ANALYZE study_shares; ANALYZE group_members"))
        r = gw.session.get(gw.origin + "/api/studies", params={"scope": "shared", "limit": 1}, headers=gw.headers())
        assert r.status_code == 200 and r.json()["total"] == shared, r.text  # the shares are really in effect
        check_decrypts(gw, rng.choice(mine))
        queries = search_queries(mine, rng, args.requests)
        found = timed(f"{args.requests} searches per API", lambda: search_latencies(gw, queries, warmup=20))
        for api, label in (("qido", "QIDO-RS /dicom-web/studies"), ("portal", "portal GET /api/studies")):
            every = found.every(api)
            print(f"  {label}: p50 {pct(every, 0.5):5.1f} ms  p95 {pct(every, 0.95):5.1f} ms  (limit 25)")
            for kind, values in found.ms[api].items():
                hits = found.hits[api][kind]
                print(f"    {kind:<11} p50 {pct(values, 0.5):5.1f} ms  p95 {pct(values, 0.95):5.1f} ms  "
                      f"mean hits {sum(hits) / len(hits):4.1f}")
            p95 = pct(every, 0.95)
            rows.append((f"{label} p95 ({args.studies} studies, {shared} shared)", f"{p95:.1f} ms", "<= 50 ms", p95 <= 50))

        # Memory and summary ---------------------------------------------------------------------
        print("\nPeak memory (VmHWM):")
        running = platform.procs.running()
        if "origin" in running:
            master, *workers = peak_rss_mb(running["origin"]).values()
            print(f"  gunicorn master {master:.0f} MB, workers " + ", ".join(f"{mb:.0f} MB" for mb in workers))
        if "orthanc" in running:
            print(f"  Orthanc  {sum(peak_rss_mb(running['orthanc']).values()):.0f} MB")
        print(f"  bench    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        print(f"\n{'figure':<48} {'value':>10}  {'target':<9} result")
        for figure, value, target, ok in rows:
            verdict = "-" if target == "info" else ("PASS" if ok else "FAIL")
            print(f"{figure:<48} {value:>10}  {target:<9} {verdict}")
        print(f"\nwhole run: {time.perf_counter() - started:.0f} s; load average (1 min) {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
        if load_before > 0.5:
            print("note: other work was running when the benchmark started; ratios are noisier, rerun on a quiet machine")
    finally:
        platform.down()
        if not args.keep_state:
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(platform.pg.socket_dir, ignore_errors=True)  # PostgreSQL's socket dir, outside state
    return 0


if __name__ == "__main__":
    sys.exit(main())
