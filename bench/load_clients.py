"""The load benchmark's client: an API client that behaves as a real one does (an answer 503 with Retry-After, or
no answer at all, is tried again after the wait it asks for, within a bounded budget) and records every answer
with its route, status, time, whether the client tried again after it and whether an error was problem+json;
and the record itself, which also holds what became of every instance sent (acknowledged or failed).
"""

from __future__ import annotations

import collections
import contextlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import requests
from harness import Gateway, pct

STOW, FRAME, METADATA, QIDO_STUDIES, QIDO_INSTANCES = ("STOW-RS store", "WADO-RS frame", "WADO-RS metadata",
                                                       "QIDO-RS studies", "QIDO-RS instances")
ROUTES = (STOW, FRAME, METADATA, QIDO_STUDIES, QIDO_INSTANCES)
PROCESSING_FAILURE = 0x0110  # what the gateway fails an instance with when the archive or index was busy or down
RETRY_BUDGET = 90.0          # seconds a client keeps trying one request before it gives up
MAX_WAIT = 10.0              # the longest Retry-After a client honours as given
TOKEN_TTL = 300              # MCC_ACCESS_TOKEN_TTL's default: a token older than this is not reused


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: its route, when it ended, how long it took, the status (None: no answer), whether
    the client tried again after it, whether an error came as problem+json, and whether it asked to wait
    (Retry-After: also a STOW answer that fails some instances for a retry)."""

    route: str
    at: float
    seconds: float
    status: int | None
    retried: bool
    problem: bool
    asked_to_wait: bool = False


class Recorder:
    """Every answer of every client, and what became of every instance sent."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.acknowledged: dict[str, tuple[str, str, str]] = {}  # sop uid -> (account, study uid, series uid)
        self.by_account: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
        self.failed: dict[str, str] = {}                          # sop uid -> why the client gave up on it
        self.resent = 0                                           # instances sent again after a retryable answer
        self.seeded = 0                                           # acknowledged before the load started
        self.in_flight: collections.Counter[str] = collections.Counter()  # requests sent and not yet answered
        self.started = time.monotonic()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def sending(self, route: str) -> Iterator[None]:
        """Count a request in flight on `route` while it is sent and answered."""
        with self._lock:
            self.in_flight[route] += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight[route] -= 1

    def answer(self, a: Answer) -> None:
        self.answers.append(a)  # list.append is atomic

    def stored(self, account: str, study: str, series: str, sops: Sequence[str]) -> None:
        with self._lock:
            for sop in sops:
                self.acknowledged[sop] = (account, study, series)
                self.by_account[account].append((study, series, sop))

    def readable(self, account: str) -> list[tuple[str, str, str]]:
        """(study, series, sop) of instances acknowledged to `account`: what its viewers may read."""
        return self.by_account[account]

    def table(self, until: float | None = None) -> list[dict]:
        """Per route: answers, successful answers per second, latency percentiles of those, 4xx, 5xx, errors."""
        until = until or time.monotonic()
        rows = []
        for route in ROUTES:
            mine = [a for a in self.answers if a.route == route]
            if not mine:
                continue
            ok = [a.seconds * 1000 for a in mine if a.status is not None and a.status < 400]
            rows.append({
                "route": route, "count": len(mine), "per_s": len(ok) / max(until - self.started, 1e-9),
                "p50": pct(ok, 0.5) if ok else 0.0, "p95": pct(ok, 0.95) if ok else 0.0,
                "p99": pct(ok, 0.99) if ok else 0.0,
                "4xx": sum(1 for a in mine if a.status and 400 <= a.status < 500),
                "5xx": sum(1 for a in mine if a.status and a.status >= 500),
                "errors": sum(1 for a in mine if a.status is None),
                "retried": sum(1 for a in mine if a.retried),
            })
        return rows


class LoadClient(Gateway):
    """A signed-in API client whose calls retry as a real client's do, recording every answer."""

    def __init__(self, origin: str, public_url: str, email: str, recorder: Recorder, *,
                 budget: float = RETRY_BUDGET) -> None:
        super().__init__(origin, public_url, email)
        self.recorder, self.budget = recorder, budget

    def headers(self, **extra: str) -> dict[str, str]:
        """As the harness's, except that a sign-in refused while the platform is down keeps the token it has
        (still valid for minutes), as a browser would until the token runs out."""
        try:
            return super().headers(**extra)
        except (AssertionError, requests.RequestException):
            if not self._token or time.monotonic() - self._at > TOKEN_TTL - 30:
                raise
            return {"Authorization": f"Bearer {self._token}", **extra}

    def call(self, route: str, method: str, path: str, **kwargs) -> requests.Response | None:
        """The answer the client settles on, or None when it got none within its budget."""
        deadline, delay = time.monotonic() + self.budget, 0.25
        extra = kwargs.pop("headers", {})
        while True:
            t0 = time.monotonic()
            try:
                with self.recorder.sending(route):
                    r = self.session.request(method, self.origin + path, headers=self.headers(**extra),
                                             timeout=120, **kwargs)
                    r.content  # noqa: B018 - the whole body belongs to the answer's time
            except (requests.RequestException, AssertionError):
                now = time.monotonic()
                again = now + delay < deadline
                self.recorder.answer(Answer(route, now, now - t0, None, again, False))
                if not again:
                    return None
                time.sleep(delay)
                delay = min(delay * 2, 4.0)
                continue
            now = time.monotonic()
            wait = retry_after(r)
            again = wait is not None and r.status_code == 503 and now + wait < deadline
            self.recorder.answer(Answer(route, now, now - t0, r.status_code, again, is_problem(r), wait is not None))
            if not again:
                return r
            time.sleep(wait + random.uniform(0, 0.5))


def retry_after(r: requests.Response) -> float | None:
    """The wait an answer asks for (seconds, at most MAX_WAIT), or None when it asks for none."""
    value = r.headers.get("Retry-After", "")
    return min(float(value), MAX_WAIT) if value.isdigit() else None


def is_problem(r: requests.Response) -> bool:
    """An error answered in the platform's own words: problem+json with a status and a detail."""
    if not r.headers.get("Content-Type", "").startswith("application/problem+json"):
        return False
    try:
        body = r.json()
    except ValueError:
        return False
    return body.get("status") == r.status_code and bool(body.get("detail"))


def statuses(answers: Sequence[Answer]) -> str:
    """A compact count of statuses ('200×120 503×4 none×2')."""
    counts = collections.Counter("none" if a.status is None else str(a.status) for a in answers)
    return " ".join(f"{k}×{v}" for k, v in sorted(counts.items()))
