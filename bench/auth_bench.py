"""Auth benchmark: login latency, and the cost of authentication on a no-op endpoint.

Starts a throwaway platform (private PostgreSQL, gunicorn behind TLS, exactly as local-dev runs
it), then prints, from one run:
- login median and p95 latency (password only, argon2id as configured);
- requests/s of an authenticated no-op vs the same no-op without authentication, and their ratio
  (target ≥ 0.9). The authenticated no-op requires an active account (`ACTIVE_ACCOUNT`), so it pays for
  the token check and for the per-request session check in PostgreSQL that patient-data routes make.

Usage: .venv/bin/python bench/auth_bench.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import PASSWORD, http_session, throwaway_platform  # noqa: E402


def throughput(origin: str, path: str, *, bearer: str | None, seconds: float, clients: int) -> float:
    """Requests per second over `clients` keep-alive connections for `seconds`."""
    counts = [0] * clients
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def worker(i: int) -> None:
        s = http_session()
        while time.monotonic() < stop:
            r = s.get(origin + path, headers=headers, timeout=10)
            assert r.status_code == 200, r.text
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--logins", type=int, default=30)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")

    with throwaway_platform() as platform:
        platform.up()
        from functions.auth import accounts
        from functions.common.platform import db

        email = "bench@example.org"
        with db.session_scope() as session:
            accounts.create_user(session, email=email, name="Bench", role="researcher", password=PASSWORD,
                                 email_verified=True)
        origin = f"https://127.0.0.1:{platform.ports.https}"
        s = http_session()
        latencies = []
        for _ in range(args.logins):
            t0 = time.perf_counter()
            r = s.post(origin + "/api/auth/login", json={"email": email, "password": PASSWORD, "client": "api"},
                       headers={"Origin": platform.public_url})
            latencies.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        # Warm up both paths, then measure them alternately so drift hits both alike.
        throughput(origin, "/api/auth/noop-public", bearer=None, seconds=1, clients=args.clients)
        throughput(origin, "/api/auth/noop", bearer=token, seconds=1, clients=args.clients)
        public, authed = [], []
        for _ in range(2):
            public.append(throughput(origin, "/api/auth/noop-public", bearer=None, seconds=args.seconds / 2,
                                     clients=args.clients))
            authed.append(throughput(origin, "/api/auth/noop", bearer=token, seconds=args.seconds / 2,
                                     clients=args.clients))
        p, a = statistics.mean(public), statistics.mean(authed)
        latencies.sort()
        print(f"login latency (argon2id, {args.logins} logins): median {statistics.median(latencies):.1f} ms, "
              f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms")
        print(f"no-op without authentication: {p:.0f} req/s ({args.clients} clients)")
        print(f"no-op with authentication:    {a:.0f} req/s ({args.clients} clients)")
        print(f"throughput ratio authenticated / unauthenticated: {a / p:.2f} (target >= 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
