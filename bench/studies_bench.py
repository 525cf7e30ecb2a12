"""Studies benchmark: STOW throughput and WADO-RS frame latency via the gateway vs Orthanc direct, QIDO at scale.

Starts a throwaway platform (private PostgreSQL, encrypted Orthanc, gunicorn behind TLS, exactly as
local-dev runs it), then prints, from one run on the same data:
- de-identification time per instance (the full PS3.15 Basic Profile ingest applies, timed in the bench process);
- STOW-RS throughput of one synthetic CT series (default 200 slices of 512x512, ~100 MB) stored
  through the gateway (HTTPS, Bearer token of an approved health professional) and, with fresh
  UIDs, straight into Orthanc's own DICOMweb STOW, in identical multipart/related batches sent
  alternately; MB/s, instances/s and the ratio gateway / direct (target >= 0.7);
- WADO-RS frame latency: frame 1 of every instance of the gateway-stored series (the very same
  instances in Orthanc), fetched sequentially over keep-alive sessions, gateway and Orthanc
  alternately, after a warm-up pass; p50/p95 of both and their ratios (target <= 1.3);
- QIDO-RS study search and the portal's study list (GET /api/studies, which also gives the total)
  with --studies synthetic studies indexed for the benchmark user plus as many for another user:
  by patient-name prefix, exact PatientID, date range, modality and unfiltered, limit 25;
  p50/p95 over --requests requests each (target p95 <= 50 ms); bench/search_scale_bench.py compares 10,000 and
  100,000 studies per user.
It ends with a table of every figure against its target, and the peak memory of each process.

Usage: .venv/bin/python bench/studies_bench.py [--slices 200] [--rows 512] [--studies 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import PASSWORD, Gateway, pct, peak_rss_mb, throwaway_platform, timed  # noqa: E402
from index_seed import seed_index, seed_shares, settle  # noqa: E402
from mcc_local.dicomgen import Patient as GeneratedPatient  # noqa: E402
from mcc_local.dicomgen import ct_series, to_bytes  # noqa: E402
from mcc_local.launcher import Platform  # noqa: E402
from studies_search import check_decrypts, search_latencies, search_queries  # noqa: E402
from studies_transfer import frame_latencies, frame_paths, start_tls_terminator, stow_both  # noqa: E402

Row = tuple[str, str, str, bool]  # figure, value, target ("info": none), whether it meets the target


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

    def generate(slices: int) -> list[bytes]:
        return [to_bytes(ds) for ds in ct_series(patient, slices=slices, rows=args.rows, columns=args.rows)]

    via_gateway = timed("series for the gateway", lambda: generate(args.slices))
    direct = timed("series for Orthanc direct (fresh UIDs)", lambda: generate(args.slices))
    warm_up = generate(2), generate(2)

    with throwaway_platform(keep_state=args.keep_state) as platform:
        timed("platform up", platform.up)
        email = "bench-doctor@example.org"
        me, other = create_users(email)
        gw = Gateway(f"https://127.0.0.1:{platform.ports.https}", platform.public_url, email)
        rows, paths = measure_stow(gw, platform, via_gateway, direct, warm_up, args.batch)
        rows += measure_deidentification(via_gateway)
        via_gateway = direct = []  # 200 MB the rest of the run does not need
        rows += measure_frames(gw, platform, paths, min_bytes=args.rows * args.rows * 2)
        rows += measure_search(gw, platform, me, other, args.studies, args.shares, args.requests)
        report_memory(platform)
        report(rows, started, load_before)
    return 0


def create_users(email: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The benchmark user (an approved health professional who signs in) and another one who only owns studies."""
    return create_user(email, "Dr Bench", signs_in=True), create_user("other-doctor@example.org", "Dr Other")


def create_user(email: str, name: str, *, signs_in: bool = False) -> uuid.UUID:
    """An approved health professional; with the benchmarks' password when it signs in."""
    from functions.auth import accounts
    from functions.common.platform import db

    with db.session_scope() as session:
        return accounts.create_user(session, email=email, name=name, role="health_professional",
                                    password=PASSWORD if signs_in else None, email_verified=True,
                                    status="active").id


def measure_stow(gw: Gateway, platform: Platform, via_gateway: list[bytes], direct: list[bytes],
                 warm_up: tuple[list[bytes], list[bytes]], batch: int) -> tuple[list[Row], list[str]]:
    """1. STOW-RS of the two series, gateway and Orthanc direct alternately; also the frame paths stored."""
    orthanc_url, orthanc_auth = platform.orthanc.url, tuple(platform.orthanc.credentials)
    print(f"\nSTOW-RS: {len(via_gateway)} instances in batches of {batch}, gateway and direct alternately",
          flush=True)
    stow_both(gw, orthanc_url, orthanc_auth, *warm_up, batch)  # warm-up, not counted
    paths = frame_paths(via_gateway)
    t0 = time.perf_counter()
    s_gw, s_direct = stow_both(gw, orthanc_url, orthanc_auth, via_gateway, direct, batch)
    print(f"  stored: {time.perf_counter() - t0:.1f} s", flush=True)
    stow_ratio = s_gw.mb_s / s_direct.mb_s
    print(f"  via gateway:    {s_gw.mb_s:6.1f} MB/s  {s_gw.per_s:6.1f} instances/s  "
          f"({s_gw.megabytes:.0f} MB in {s_gw.seconds:.1f} s)")
    print(f"  Orthanc direct: {s_direct.mb_s:6.1f} MB/s  {s_direct.per_s:6.1f} instances/s  "
          f"({s_direct.megabytes:.0f} MB in {s_direct.seconds:.1f} s)")
    print(f"  ratio gateway / direct: {stow_ratio:.2f} (target >= 0.7)")
    return [("STOW throughput, gateway / direct", f"{stow_ratio:.2f}", ">= 0.7", stow_ratio >= 0.7)], paths


def measure_deidentification(instances: list[bytes]) -> list[Row]:
    """The PS3.15 Basic Profile as ingest applies it (functions/common/dicom/deidentify.py), timed per instance of
    the series the gateway stored (parsing and saving not counted)."""
    import pydicom

    from functions.common.dicom.deidentify import deidentify

    seconds = []
    for data in instances:
        ds = pydicom.dcmread(io.BytesIO(data))
        t0 = time.perf_counter()
        deidentify(ds, patient_key="bench-patient")
        seconds.append(time.perf_counter() - t0)
    p50, p95 = pct(seconds, 0.5) * 1000, pct(seconds, 0.95) * 1000
    print(f"\nDe-identification (Basic Profile, every option): p50 {p50:.2f} ms, p95 {p95:.2f} ms per instance "
          f"({len(seconds)} instances)", flush=True)
    return [("de-identification per instance, p50", f"{p50:.2f} ms", "info", True)]


def measure_frames(gw: Gateway, platform: Platform, paths: list[str], *, min_bytes: int) -> list[Row]:
    """2. WADO-RS frame 1 of every stored instance: gateway, Orthanc direct and Orthanc behind TLS."""
    print(f"\nWADO-RS frames: frame 1 of {len(paths)} instances, warm-up pass then measured", flush=True)
    orthanc_url, orthanc_auth = platform.orthanc.url, tuple(platform.orthanc.credentials)
    tls_url = start_tls_terminator(platform.state, platform, platform.procs)
    archives = {"direct": (orthanc_url, orthanc_auth), "direct over TLS": (tls_url, orthanc_auth)}
    frames = timed("fetched", lambda: frame_latencies(gw, archives, paths, min_bytes))
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
    return [("WADO frame p50, gateway / Orthanc over TLS", f"{tls_p50:.2f}", "info", True),
            ("WADO frame p50, gateway / direct", f"{p50_ratio:.2f}", "<= 1.3", p50_ratio <= 1.3),
            ("WADO frame p95, gateway / direct", f"{p95_ratio:.2f}", "<= 1.3", p95_ratio <= 1.3)]


def measure_search(gw: Gateway, platform: Platform, me: uuid.UUID, other: uuid.UUID, studies: int, shares: int,
                   searches: int) -> list[Row]:
    """3. QIDO-RS and the portal list over `studies` studies for each of two users, `shares` of the other's shared."""
    print(f"\nSearch: {studies} studies for the benchmark user, {studies} for another user, "
          f"{shares} of those shared with the benchmark user", flush=True)
    rng = random.Random(4)
    mine = timed("indexed (benchmark user)", lambda: seed_index(me, studies, rng, tag="BM"))
    timed("indexed (other user)", lambda: seed_index(other, studies, rng, tag="OT"))
    shared = timed(f"{shares} of the other user's studies shared with the benchmark user",
                   lambda: seed_shares(other, me, shares, rng))
    settle(platform)
    # the shares are really in effect: the last page of the shared list (its total exact, the scans saw them all)
    r = gw.session.get(gw.origin + "/api/studies", params={"scope": "shared", "limit": 2, "offset": shared - 1},
                       headers=gw.headers())
    assert r.status_code == 200 and r.json()["total"] == shared and r.json()["total_exact"], r.text
    check_decrypts(gw, rng.choice(mine))
    queries = search_queries(mine, rng, searches)
    found = timed(f"{searches} searches per API", lambda: search_latencies(gw, queries, warmup=20))
    rows = []
    for api, label in (("qido", "QIDO-RS /dicom-web/studies"), ("portal", "portal GET /api/studies")):
        every = found.every(api)
        print(f"  {label}: p50 {pct(every, 0.5):5.1f} ms  p95 {pct(every, 0.95):5.1f} ms  (limit 25)")
        for kind, values in found.ms[api].items():
            hits = found.hits[api][kind]
            print(f"    {kind:<11} p50 {pct(values, 0.5):5.1f} ms  p95 {pct(values, 0.95):5.1f} ms  "
                  f"mean hits {sum(hits) / len(hits):4.1f}")
        p95 = pct(every, 0.95)
        rows.append((f"{label} p95 ({studies} studies, {shared} shared)", f"{p95:.1f} ms", "<= 50 ms", p95 <= 50))
    return rows


def report_memory(platform: Platform) -> None:
    """Peak resident memory of the origin's gunicorn processes, Orthanc and this benchmark."""
    print("\nPeak memory (VmHWM):")
    running = platform.procs.running()
    if "origin" in running:
        master, *workers = peak_rss_mb(running["origin"]).values()
        print(f"  gunicorn master {master:.0f} MB, workers " + ", ".join(f"{mb:.0f} MB" for mb in workers))
    if "orthanc" in running:
        print(f"  Orthanc  {sum(peak_rss_mb(running['orthanc']).values()):.0f} MB")
    print(f"  bench    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def report(rows: list[Row], started: float, load_before: float) -> None:
    """Every figure against its target, and how busy the machine was."""
    print(f"\n{'figure':<48} {'value':>10}  {'target':<9} result")
    for figure, value, target, ok in rows:
        verdict = "-" if target == "info" else ("PASS" if ok else "FAIL")
        print(f"{figure:<48} {value:>10}  {target:<9} {verdict}")
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s; load average (1 min) {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    if load_before > 0.5:
        print("note: other work was running when the benchmark started; ratios are noisier, rerun on a quiet machine")


if __name__ == "__main__":
    sys.exit(main())
