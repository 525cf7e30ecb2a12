"""Search at scale: QIDO-RS and the portal's study list at 10,000 and at 100,000 studies per user, in one run.

Starts a throwaway platform (private PostgreSQL, encrypted Orthanc, gunicorn behind TLS, as local-dev runs it) and
times the searches a user runs (patient name prefix, exact PatientID, date range by original dates, modality,
unfiltered; limit 25) through both APIs, for two users who each have a tenth of their own count shared with them by
a third user (half through a group):
1. the small user (--small studies) while the archive holds only them and the third user's --small: the baseline;
2. then the large user (--large studies, the third user grown to --large) is added, and the small and the large
   user's searches run alternately, in chunks: same archive, same machine load.
It prints p50/p95 per kind and API and the ratio of the large user's p95 to the small user's (in the same stretch:
the target, p95(large) <= 1.5 x p95(small), and p95(large) <= 50 ms; and to the baseline, for information), with
the load average, since other work on the machine moves every figure.

Usage: .venv/bin/python bench/search_scale_bench.py [--small 10000] [--large 100000] [--requests 100]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import Gateway, pct, throwaway_platform, timed  # noqa: E402
from index_seed import SeededPatient, seed_index, seed_shares, settle  # noqa: E402
from mcc_local.launcher import Platform  # noqa: E402
from studies_bench import create_user  # noqa: E402
from studies_search import SearchFigures, check_decrypts, search_latencies, search_queries  # noqa: E402

KINDS = ("name", "patient_id", "date_range", "modality", "unfiltered")
RATIO_TARGET, P95_TARGET_MS = 1.5, 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="studies of the small user (default 10000)")
    parser.add_argument("--large", type=int, default=100_000, help="studies of the large user (default 100000)")
    parser.add_argument("--requests", type=int, default=100, help="timed searches per kind and API (default 100)")
    args = parser.parse_args()
    if not 10 <= args.small < args.large or args.requests < 10:
        parser.error("need 10 <= --small < --large and --requests >= 10")
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with throwaway_platform() as platform:
        timed("platform up", platform.up)
        origin = f"https://127.0.0.1:{platform.ports.https}"
        other = create_user("other-doctor@example.org", "Dr Other")
        rng = random.Random(13)
        small = User(platform, origin, "small", rng)
        large = User(platform, origin, "large", rng)
        print(f"\n1. The small user alone: {args.small} studies, as many for the third user", flush=True)
        small.grow(other, args.small, args.small)
        baseline = measure({"small": small}, rng, args.requests)["small"]
        print(f"\n2. The large user added: {args.large} studies, the third user grown to as many", flush=True)
        large.grow(other, args.large, args.large - args.small)
        both = measure({"small": small, "large": large}, rng, args.requests)
        report(baseline, both["small"], both["large"], args.small, args.large)
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s; load average (1 min) {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    return 0


class User:
    """A benchmark user who signs in, their seeded patients, and the platform to seed into."""

    def __init__(self, platform: Platform, origin: str, label: str, rng: random.Random) -> None:
        email = f"bench-{label}@example.org"
        self.id = create_user(email, f"Dr {label.title()}", signs_in=True)
        self.gw = Gateway(origin, platform.public_url, email)
        self.platform, self.label, self.rng = platform, label, rng
        self.patients: list[SeededPatient] = []

    def grow(self, other: uuid.UUID, own: int, others: int) -> None:
        """`own` studies of this user, `others` more of the third user's, and a tenth of `own` of the third user's
        shared with this user (studies not shared yet)."""
        self.patients += timed(f"indexed ({self.label} user)",
                               lambda: seed_index(self.id, own, self.rng, tag=self.label[0].upper()))
        timed("indexed (third user)", lambda: seed_index(other, others, self.rng, tag=f"O{self.label[0]}"))
        timed("shared", lambda: seed_shares(other, self.id, own // 10, self.rng))
        timed("VACUUM ANALYZE", lambda: settle(self.platform))
        check_decrypts(self.gw, self.rng.choice(self.patients))


def measure(users: dict[str, User], rng: random.Random, requests: int, chunks: int = 10) -> dict[str, SearchFigures]:
    """`requests` searches per kind and API for each user; the users' searches alternate in `chunks` stretches."""
    queries = {label: search_queries(u.patients, rng, requests * len(KINDS)) for label, u in users.items()}
    for label, u in users.items():
        search_latencies(u.gw, queries[label][:25], 0)  # warm-up, not counted
    figures = {label: SearchFigures({"qido": {}, "portal": {}}, {"qido": {}, "portal": {}}) for label in users}
    step = requests * len(KINDS) // chunks
    load, t0 = os.getloadavg()[0], time.perf_counter()
    for i in range(chunks):
        for label, u in users.items():
            part = search_latencies(u.gw, queries[label][i * step:(i + 1) * step], 0)
            for api in ("qido", "portal"):
                for kind, values in part.ms[api].items():
                    figures[label].ms[api].setdefault(kind, []).extend(values)
                    figures[label].hits[api].setdefault(kind, []).extend(part.hits[api][kind])
    print(f"  searched: {time.perf_counter() - t0:.1f} s; load average (1 min) {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after", flush=True)
    return figures


def report(baseline: SearchFigures, small: SearchFigures, large: SearchFigures, n_small: int, n_large: int) -> None:
    """p50/p95 per kind and API, the ratio of the large user's p95 to the small user's in the same stretch (the
    target) and to the baseline (information), and the verdict against both targets."""
    print(f"\n{'api':<7} {'kind':<11} {'base p95':>8} {'small p50':>9} {'small p95':>9} {'large p50':>9} "
          f"{'large p95':>9} {'ratio':>6} {'/base':>6}  result")
    failed = 0
    for api in ("qido", "portal"):
        for kind in (*KINDS, "every"):
            b, a, c = ((f.every(api) if kind == "every" else f.ms[api][kind]) for f in (baseline, small, large))
            ratio, to_base = pct(c, 0.95) / pct(a, 0.95), pct(c, 0.95) / pct(b, 0.95)
            ok = ratio <= RATIO_TARGET and pct(c, 0.95) <= P95_TARGET_MS
            failed += not ok
            print(f"{api:<7} {kind:<11} {pct(b, 0.95):8.1f} {pct(a, 0.5):9.1f} {pct(a, 0.95):9.1f} {pct(c, 0.5):9.1f} "
                  f"{pct(c, 0.95):9.1f} {ratio:6.2f} {to_base:6.2f}  {'PASS' if ok else 'FAIL'}")
    print(f"ms; small user {n_small} studies, large user {n_large}, each +10% shared; base: the small user before the "
          f"large one was added")
    print(f"targets: p95(large) <= {RATIO_TARGET} x p95(small) and p95(large) <= {P95_TARGET_MS:.0f} ms; "
          f"{failed} row(s) miss")


if __name__ == "__main__":
    sys.exit(main())
