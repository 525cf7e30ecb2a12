"""Load benchmark: uploaders, viewers and searchers at once through the gateway, optionally with outages.

Starts a throwaway platform (private PostgreSQL, encrypted Orthanc, gunicorn behind TLS, exactly as local-dev
runs it) and one approved health professional per uploader, stores one series per account first (so viewers
have something to read), then for --duration seconds:
- uploaders store synthetic CT series (--slices instances of --rows x --rows, a new study each) through
  STOW-RS in requests of --batch instances;
- viewers read frame 1 and the metadata of instances their account stored, at random;
- searchers ask QIDO-RS for studies (by patient, modality, unfiltered; 25 a page) and for the instances of a
  series.
Clients behave as real ones: an answer 503 with Retry-After, or none at all, is tried again after the wait
(bounded); a STOW answer that fails instances as processing failures with Retry-After has those sent again.
With --chaos, Orthanc is killed (SIGKILL) at a third of the run and PostgreSQL stopped in immediate mode at two
thirds, each while an upload is under way and kept down until an upload has met the outage (and at least
--outage seconds), then restarted; the functions keep running.

It prints, per route: answers, successful answers per second, p50/p95/p99 latency of those, 4xx, 5xx, answers
missing (connection errors) and answers the client retried; then the consistency check: every acknowledged
instance indexed and readable through the gateway, every instance in Orthanc indexed and every indexed one in
Orthanc. Exit status 1 when the target is missed: a failed instance, a 4xx, a 5xx or a missing answer (with
--chaos: outside an outage window, or a 5xx that is not problem+json), a restarted function process, or any
disagreement between index, archive and acknowledgements.

Usage: .venv/bin/python bench/load_bench.py [--duration 180] [--uploaders 4] [--viewers 4] [--searchers 2]
                                            [--slices 200] [--rows 256] [--batch 20] [--chaos] [--outage 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import Gateway, throwaway_platform, timed  # noqa: E402
from load_checks import (  # noqa: E402
    GRACE,
    Consistency,
    Outage,
    check_consistency,
    function_processes,
    kill_orthanc,
    stop_postgres_immediately,
    verdict,
)
from load_clients import ROUTES, Recorder, statuses  # noqa: E402
from load_work import Load, LoadShape, create_accounts  # noqa: E402
from mcc_local.dicomgen import Patient  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load (default 180)")
    parser.add_argument("--uploaders", type=int, default=4, help="clients storing series (default 4)")
    parser.add_argument("--viewers", type=int, default=4, help="clients reading frames and metadata (default 4)")
    parser.add_argument("--searchers", type=int, default=2, help="clients searching (default 2)")
    parser.add_argument("--slices", type=int, default=200, help="instances per series (default 200)")
    parser.add_argument("--rows", type=int, default=256, help="rows and columns of each slice (default 256)")
    parser.add_argument("--batch", type=int, default=20, help="instances per STOW-RS request (default 20)")
    parser.add_argument("--max-series", type=int, default=100, help="series per uploader at most (default 100)")
    parser.add_argument("--chaos", action="store_true", help="kill Orthanc, then stop PostgreSQL, mid-load")
    parser.add_argument("--outage", type=float, default=3.0,
                        help="with --chaos, seconds each service stays down at least (default 3)")
    parser.add_argument("--keep-state", action="store_true", help="keep the throwaway platform's state directory")
    args = parser.parse_args()
    if min(args.uploaders, args.slices, args.batch, args.max_series) < 1 or args.duration < 10:
        parser.error("need --duration >= 10 and at least one uploader, slice, instance per batch and series")
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    load_before = os.getloadavg()[0]
    shape = LoadShape(args.uploaders, args.viewers, args.searchers, args.slices, args.rows, args.batch,
                      args.max_series)

    with throwaway_platform(keep_state=args.keep_state) as platform:
        timed("platform up", platform.up)
        accounts = create_accounts(args.uploaders)
        patients = [Patient(name=f"LOAD^UPLOADER{i:02d}", patient_id=f"LOAD-{i:04d}") for i in range(args.uploaders)]
        origin = f"https://127.0.0.1:{platform.ports.https}"
        load = Load(shape)
        timed("clients signed in, one series per uploader stored",
              lambda: load.start(origin, platform.public_url, accounts, patients))
        before = function_processes(platform)
        print(f"Load: {args.uploaders} uploaders ({args.slices} x {args.rows}x{args.rows}, {args.batch} per "
              f"request), {args.viewers} viewers, {args.searchers} searchers for {args.duration:.0f} s"
              + (", with outages" if args.chaos else ""), flush=True)
        outages: list[Outage] = []
        if args.chaos:
            for fraction, outage in ((1 / 3, kill_orthanc), (2 / 3, stop_postgres_immediately)):
                _sleep_until(load.recorder.started + fraction * args.duration)
                outages.append(outage(platform, load.recorder, down_at_least=args.outage))
                print(f"  {outages[-1].what}: down {outages[-1].back - outages[-1].started:.1f} s, "
                      f"from {outages[-1].started - load.recorder.started:.0f} s into the run", flush=True)
        _sleep_until(load.recorder.started + args.duration)
        ended = load.finish()
        after = function_processes(platform)
        report(load.recorder, outages, ended)
        print("\nConsistency (index, archive, acknowledgements):", flush=True)
        readers = {email: Gateway(origin, platform.public_url, email) for email in accounts}
        consistency = timed("checked", lambda: check_consistency(platform, load.recorder, readers))
        misses = verdict(load.recorder, outages, consistency, before, after)
        report_consistency(consistency, load.recorder)
    print(f"\nload average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} "
          "CPUs: client, gateway, Orthanc and PostgreSQL share them, so latencies are noisy")
    if misses:
        print("\nTARGET MISSED:\n  " + "\n  ".join(misses))
        return 1
    print("\nTarget met: no failed instance, no 5xx" + (" outside the outages" if args.chaos else "")
          + ", index and archive agree.")
    return 0


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def report(recorder: Recorder, outages: Sequence[Outage], ended: float) -> None:
    """Per route and in total: answers, throughput, latencies, and what went wrong."""
    seconds = ended - recorder.started
    print(f"\nRun: {seconds:.0f} s")
    for o in outages:
        print(f"  outage window {o.started - recorder.started:5.1f}–{o.back - recorder.started + GRACE:5.1f} s: "
              f"{o.what} (back after {o.back - o.started:.1f} s, + {GRACE:.0f} s grace)")
    print(f"\n{'route':<18} {'answers':>7} {'ok/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'4xx':>5} "
          f"{'5xx':>5} {'errors':>6} {'retried':>7}")
    rows = recorder.table(ended)
    for r in rows:
        print(f"{r['route']:<18} {r['count']:>7} {r['per_s']:>7.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
              f"{r['p99']:>8.1f} {r['4xx']:>5} {r['5xx']:>5} {r['errors']:>6} {r['retried']:>7}")
    total = {k: sum(r[k] for r in rows) for k in ("count", "per_s", "4xx", "5xx", "errors", "retried")}
    print(f"{'total':<18} {total['count']:>7} {total['per_s']:>7.1f} {'':>8} {'':>8} {'':>8} {total['4xx']:>5} "
          f"{total['5xx']:>5} {total['errors']:>6} {total['retried']:>7}")
    for o in outages:
        inside = [a for a in recorder.answers if o.covers(a.at)]
        print(f"  during '{o.what}': " + "; ".join(
            f"{route} {statuses([a for a in inside if a.route == route])}" for route in ROUTES
            if any(a.route == route for a in inside)))
    acked = len(recorder.acknowledged) - recorder.seeded
    print(f"\ninstances acknowledged {acked} ({acked / seconds:.1f}/s), failed {len(recorder.failed)}, "
          f"sent again after a retryable answer {recorder.resent}")


def report_consistency(c: Consistency, recorder: Recorder) -> None:
    print(f"  acknowledged {c.acknowledged} ({recorder.seeded} of them before the load), indexed {c.indexed}, "
          f"in Orthanc {c.archived} (both also hold the demo study)")
    print(f"  acknowledged but not indexed {len(c.not_indexed)}, not readable through the gateway "
          f"{len(c.unreadable)}, in Orthanc but not indexed {len(c.half_stored)}, indexed but not in Orthanc "
          f"{len(c.missing)}")


if __name__ == "__main__":
    sys.exit(main())
