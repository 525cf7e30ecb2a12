"""Series read benchmark: a stored CT read as a model's input Volume (`read_series`) vs its bytes straight from
Orthanc.

Starts a throwaway platform (private PostgreSQL, encrypted Orthanc, the gateway, as local-dev runs it), stores
one synthetic CT (default 200 slices of 512x512, ~105 MB) through the gateway's STOW-RS, then reads it --reads
times each way, alternating who goes first:
- `read_series` in this process (after the permission check): the index lookup, every instance fetched from Orthanc
  (`/instances/{id}/file`, FETCH_WORKERS in parallel), then each file's header parsed, the grid checked and
  sorted, each image rescaled into the volume in HU, the asked attributes restored from the sealed originals;
- the baseline: the same instances' bytes fetched from Orthanc's REST API in this process, by the same number of
  threads over one keep-alive pool, and nothing else, with requests' default `.content` (also, once, one at a
  time, for reference);
- the streamed baseline: the same, each body read in one piece (`stream=True`, `iter_content(None)`), as
  read_series' own client reads it: the fastest way this process gets the bytes, so the stricter yardstick.
It prints MB/s of each, both ratios (target >= 0.8; the streamed one is the one to quote) and where
read_series' time goes.
Orthanc's other ways to hand out a series (`/series/{id}/archive`, `/series/{id}/numpy`) are timed once for
the record: they are why `read_series` uses per-instance files.

Usage: .venv/bin/python bench/series_read_bench.py [--slices 200] [--rows 512] [--reads 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import PASSWORD, Gateway, throwaway_platform, timed  # noqa: E402
from mcc_local.dicomgen import Patient, ct_series, to_bytes  # noqa: E402
from studies_transfer import STOW_TYPE, batches, multipart, orthanc_session  # noqa: E402

ATTRIBUTES = ("PatientAge", "PatientSex", "PatientName")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200, help="instances of the CT series (default 200)")
    parser.add_argument("--rows", type=int, default=512, help="rows and columns of each slice (default 512)")
    parser.add_argument("--reads", type=int, default=3, help="timed reads each way (default 3)")
    args = parser.parse_args()
    if args.slices < 2 or args.reads < 1:
        parser.error("need --slices >= 2 and --reads >= 1")
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    load_before = os.getloadavg()[0]
    series = ct_series(Patient(name="BENCH^VOLUME", patient_id="BENCH-VOL-1"), slices=args.slices, rows=args.rows,
                       columns=args.rows)
    for ds in series:
        ds.PatientAge = "061Y"
    files = timed(f"{args.slices} slices of {args.rows}x{args.rows} generated", lambda: [to_bytes(d) for d in series])
    with throwaway_platform() as platform:
        timed("platform up", platform.up)
        user = _create_user("bench-volume@example.org")
        gw = Gateway(f"https://127.0.0.1:{platform.ports.https}", platform.public_url, "bench-volume@example.org")
        timed("stored through STOW-RS", lambda: _store(gw, files))
        study_uid, series_uid = str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID)
        ratio = measure(platform, user, study_uid, series_uid, args.reads)
    print(f"\nratio read_series / Orthanc direct: {ratio:.2f} (target >= 0.8) {'PASS' if ratio >= 0.8 else 'FAIL'}"
          " (baseline: .content; the streamed ratio above is the stricter one)")
    print(f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    if load_before > 0.5:
        print("note: other work was running when the benchmark started; ratios are noisier, rerun on a quiet machine")
    return 0


def _create_user(email: str):
    from functions.auth import accounts
    from functions.common.platform import db
    from functions.common.security.tokens import Principal

    with db.session_scope() as session:
        user = accounts.create_user(session, email=email, name="Dr Volume", role="health_professional",
                                    password=PASSWORD, email_verified=True, status="active")
        return Principal.acting_for(user.id, role="health_professional", status="active")


def _store(gw: Gateway, files: list[bytes]) -> None:
    for batch in batches(files, 20):
        r = gw.session.post(gw.origin + "/dicom-web/studies", data=multipart(batch), timeout=600,
                            headers=gw.headers(**{"Content-Type": STOW_TYPE, "Accept": "application/dicom+json"}))
        assert r.status_code == 200 and "00081198" not in r.json(), r.text[:500]


def measure(platform, principal, study_uid: str, series_uid: str, reads: int) -> float:
    """Take turns: read_series, the direct fetch and the streamed one; print all three and where read_series' time
    goes; return the ratio read_series / direct fetch (.content)."""
    from sqlalchemy import select

    from functions.common.access.policy import Action, study_for
    from functions.common.dicom.index import Instance, Series
    from functions.common.dicom.volumes import Timings, read_series
    from functions.common.dicom.volumes.reading import FETCH_WORKERS
    from functions.common.platform import db

    direct = orthanc_session(tuple(platform.orthanc.credentials))
    base = platform.orthanc.url
    with db.session_scope() as session:
        ids = session.scalars(select(Instance.orthanc_id).join(Series).where(Series.series_uid == series_uid)).all()

    def fetch_direct(workers: int, streamed: bool = False) -> int:
        def get(i: str) -> int:
            if not streamed:
                return len(direct.get(f"{base}/instances/{i}/file", timeout=60).content)
            r = direct.get(f"{base}/instances/{i}/file", timeout=60, stream=True)
            return len(b"".join(r.iter_content(chunk_size=None)))

        with ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(get, ids))

    def via_read_series() -> tuple[Timings, object]:
        spent = Timings()
        with db.session_scope() as session:
            study = study_for(session, principal, study_uid, Action.READ, series_uid=series_uid)
            volume = read_series(session, study, series_uid, attributes=ATTRIBUTES, timings=spent).volume
        return spent, volume

    print(f"\nwarm-up: one read each way (not counted); then {reads} timed reads each way, taking turns to go first",
          flush=True)
    _, volume = via_read_series()
    size = fetch_direct(FETCH_WORKERS)
    assert fetch_direct(FETCH_WORKERS, streamed=True) == size
    assert volume.attributes["PatientName"] == "BENCH^VOLUME" and volume.attributes["PatientAge"] == "061Y"
    print(f"  volume {volume.shape} {volume.array.dtype}, spacing {tuple(round(s, 3) for s in volume.spacing)}, "
          f"{size / 1e6:.1f} MB of DICOM")
    runs: dict[str, list[float]] = {"ours": [], "direct": [], "streamed": []}
    cpu: dict[str, list[float]] = {who: [] for who in runs}
    every = []
    ways = list(runs)
    for n in range(reads):
        for who in ways[n % 3:] + ways[:n % 3]:
            t0, c0 = time.perf_counter(), time.process_time()
            if who == "ours":
                every.append(via_read_series()[0])
            else:
                fetch_direct(FETCH_WORKERS, streamed=who == "streamed")
            runs[who].append(time.perf_counter() - t0)
            cpu[who].append(time.process_time() - c0)
    t0 = time.perf_counter()
    fetch_direct(1)
    sequential = time.perf_counter() - t0
    mb = size / 1e6
    mean = {who: sum(times) / reads for who, times in runs.items()}
    for who, label in (("ours", "read_series"), ("direct", "Orthanc direct (.content)"),
                       ("streamed", "Orthanc direct, streamed")):
        threads = "" if who == "ours" else f"{FETCH_WORKERS} threads; "
        print(f"  {label + ':':<28} {mb / mean[who]:6.1f} MB/s  mean {mean[who]:.2f} s, CPU here "
              f"{sum(cpu[who]) / reads:.2f} s  ({threads}runs {', '.join(f'{s:.2f}' for s in runs[who])})")
    print(f"  Orthanc direct, one at a time (reference): {mb / sequential:6.1f} MB/s  {sequential:.2f} s")
    ratio, ratio_streamed = mean["direct"] / mean["ours"], mean["streamed"] / mean["ours"]
    print(f"  ratio read_series / Orthanc direct (.content): {ratio:.2f}; / Orthanc direct, streamed: "
          f"{ratio_streamed:.2f} (quote the streamed one: it is the fastest client of the two)")
    _where_the_time_goes(every)
    _orthanc_alternatives(direct, base, ids[0])
    return ratio


def _where_the_time_goes(every: list) -> None:
    mean = {k: sum(getattr(t, k) for t in every) / len(every)
            for k in ("index", "transfer", "fetch", "decode", "memory", "layout", "stack", "attributes", "total")}
    rest = mean["total"] - sum(mean[k] for k in ("index", "transfer", "decode", "memory", "layout", "stack",
                                                 "attributes"))
    print("  where read_series' time goes (mean seconds):")
    for label, value in (("index lookup", mean["index"]),
                         (f"fetch, wall (summed over the workers {mean['fetch']:.2f})", mean["transfer"]),
                         ("parse (headers, geometry, value ranges)", mean["decode"]),
                         ("then waiting for the volume's memory", mean["memory"]),
                         ("layout (checks, sort)", mean["layout"]), ("rescale into the volume", mean["stack"]),
                         ("attributes (originals)", mean["attributes"]), ("the rest", rest)):
        print(f"    {label:<48} {value:.3f}")


def _orthanc_alternatives(direct, base: str, instance_id: str) -> None:
    series_id = direct.get(f"{base}/instances/{instance_id}/series", timeout=60).json()["ID"]
    for label, path in (("/series/{id}/archive (zip)", f"/series/{series_id}/archive"),
                        ("/series/{id}/numpy", f"/series/{series_id}/numpy")):
        t0 = time.perf_counter()
        r = direct.get(base + path, timeout=600)
        print(f"  Orthanc {label}: {time.perf_counter() - t0:.2f} s (HTTP {r.status_code}, "
              f"{len(r.content) / 1e6:.0f} MB), once, for the record")


if __name__ == "__main__":
    sys.exit(main())
