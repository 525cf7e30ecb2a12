"""What the inference benchmark measures: one click → result visible as the viewer sees it, split at the moments the
job records; executors in this process or as processes; jobs per minute with a fixed number in flight.

Import it after putting the project root and local-dev on sys.path, as the benchmark scripts do.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import Gateway
from mcc_local.launcher import Platform

STAGES = ("queue_wait", "dispatch", "read", "model", "build", "store")  # the executor's result["timings"]
DICOM_PARTS = 'multipart/related; type="application/dicom"'
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One click → result visible, in seconds, split at the moments the job and this client record."""

    total: float  # POST sent → the result's WADO-RS body received
    enqueue: float  # POST sent → 202 received (overlaps the queue wait: the job row exists before the answer)
    before_insert: float  # POST sent → the job row's transaction began (created_at)
    timings: dict[str, float]  # the executor's own, of the job's last attempt
    notify_to_claim: float | None  # the NOTIFY seen by a listener here → the executor holding the job
    mark_done: float  # stored → the job marked done (its row updated)
    seen: float  # marked done → this client's poll saw it
    qido: float  # QIDO-RS finds the result series
    wado: float  # WADO-RS returns it
    attempts: int
    megabytes: float  # the result's size as retrieved


def _wall(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


class NotifyClock:
    """A LISTEN on the jobs' channel in this process: when each NOTIFY arrived, as an idle executor gets it."""

    def __init__(self) -> None:
        self.seen: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="notify-clock", daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> NotifyClock:
        self._thread.start()
        assert self._ready.wait(30), "the NOTIFY listener did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def first_after(self, t: float) -> float | None:
        """When the first NOTIFY after wall time `t` arrived, if any did."""
        return next((s for s in self.seen if s >= t), None)

    def _listen(self) -> None:
        from functions.common.ai_models import jobs
        from functions.common.platform import db

        connection = db.engine().raw_connection()
        connection.detach()
        try:
            raw = connection.dbapi_connection
            raw.set_session(autocommit=True)
            raw.cursor().execute(f"LISTEN {jobs.CHANNEL}")
            self._ready.set()
            while not self._stop.is_set():
                if select.select([raw], [], [], 0.2)[0]:
                    now = time.time()
                    raw.poll()
                    self.seen.extend(now for _ in raw.notifies)
                    raw.notifies.clear()
        finally:
            connection.close()


def listeners(since: dt.datetime) -> int:
    """Database sessions that began listening for jobs after `since` and wait for one: executors ready for work.
    (A session closed a moment ago may still be listed, so sessions are told apart by when they listened.)"""
    from sqlalchemy import text

    from functions.common.ai_models import jobs
    from functions.common.platform import db

    with db.session_scope() as session:
        return session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE query = :q AND state = 'idle'"
                                   " AND state_change >= :since"), {"q": f"LISTEN {jobs.CHANNEL}", "since": since})


@contextmanager
def executors(platform: Platform, count: int, kind: str) -> Iterator[None]:
    """`count` executors serving the queue until the block ends: threads of this process, or processes started as
    the launcher starts its one (`python -m functions.inference.executor` as the origin's user); ready once each
    listens for jobs."""
    from mcc_local import users

    from functions.common.platform.db import utcnow
    from functions.inference.executor import Executor

    since, stop = utcnow(), threading.Event()
    threads: list[threading.Thread] = []
    names = [f"bench-executor-{n}" for n in range(count)] if kind == "processes" else []
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'local-dev'}"}
    try:
        for n in range(count):
            if kind == "threads":
                threads.append(threading.Thread(target=Executor(f"bench-thread-{n}").serve, args=(stop,),
                                                name=f"executor-{n}", daemon=True))
                threads[-1].start()
            else:
                platform.procs.start(names[n], [sys.executable, "-m", "functions.inference.executor"], cwd=ROOT,
                                     env=env, run_as=users.APP if users.privileged() else None)
        deadline = time.monotonic() + 120
        while listeners(since) < count:
            assert time.monotonic() < deadline, f"{count} executor {kind} did not all listen within 120 s"
            assert all(platform.procs.is_running(name) for name in names), \
                f"an executor process exited; see {platform.procs.log_dir}"
            time.sleep(0.05)
        yield
    finally:
        stop.set()
        for name in names:
            platform.procs.stop(name, 30)
        for t in threads:
            t.join(30)  # each wakes within its idle wait (5 s)


def queue(gw: Gateway, model_id: str, study_uid: str, series_uid: str) -> str:
    """POST /api/inference/jobs, as the viewer's Run button does; the job's id."""
    r = gw.session.post(gw.origin + "/api/inference/jobs", headers=gw.headers(),
                        json={"model_id": model_id, "study_uid": study_uid, "series_uid": series_uid}, timeout=60)
    assert r.status_code == 202, r.text[:500]
    return r.json()["id"]


def click_to_visible(gw: Gateway, clock: NotifyClock, *, model_id: str, study_uid: str, series_uid: str,
                     poll_s: float) -> Run:
    """Run the model on the series as the viewer does, until its result series is retrievable through DICOMweb."""
    headers = gw.headers()  # a token renewal now, not inside the timed click
    t0 = time.time()
    r = gw.session.post(gw.origin + "/api/inference/jobs", headers=headers,
                        json={"model_id": model_id, "study_uid": study_uid, "series_uid": series_uid}, timeout=60)
    t_queued = time.time()
    assert r.status_code == 202, r.text[:500]
    job_url = f"{gw.origin}/api/inference/jobs/{r.json()['id']}"
    deadline = time.monotonic() + 900
    while True:
        job = gw.session.get(job_url, headers=headers, timeout=60).json()
        if job["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, f"the job is still {job['status']} after 900 s"
        time.sleep(poll_s)
    t_seen = time.time()
    assert job["status"] == "done", f"the job ended {job['status']}: {job.get('error')}"
    [stored] = job["result"]["instances"]
    q = gw.session.get(f"{gw.origin}/dicom-web/studies/{study_uid}/series", headers=headers, timeout=60,
                       params={"SeriesInstanceUID": stored["series_uid"]})
    t_qido = time.time()
    assert q.status_code == 200 and len(q.json()) == 1, f"QIDO-RS did not find the result: {q.status_code}"
    w = gw.session.get(f"{gw.origin}/dicom-web/studies/{study_uid}/series/{stored['series_uid']}", timeout=120,
                       headers={**headers, "Accept": DICOM_PARTS})
    t_wado = time.time()
    assert w.status_code == 200 and stored["sop_uid"].encode() in w.content, f"WADO-RS: {w.status_code}"
    timings = job["result"]["timings"]
    created, finished = _wall(job["created_at"]), _wall(job["finished_at"])
    claimed = created + timings["queue_wait"]
    notified = clock.first_after(t0)
    return Run(total=t_wado - t0, enqueue=t_queued - t0, before_insert=created - t0, timings=timings,
               notify_to_claim=None if notified is None else claimed - notified,
               mark_done=finished - claimed - sum(timings[s] for s in STAGES[1:]), seen=t_seen - finished,
               qido=t_qido - t_seen, wado=t_wado - t_qido, attempts=_attempts(job["id"]),
               megabytes=len(w.content) / 1e6)


def _attempts(job_id: str) -> int:
    from functions.common.ai_models.jobs import InferenceJob
    from functions.common.platform import db

    with db.session_scope() as session:
        return session.get(InferenceJob, uuid.UUID(job_id)).attempts


@dataclass
class Load:
    """Jobs run with a fixed number in flight: when each was queued and ended, and what the executors timed."""

    queued: dict[str, float] = field(default_factory=dict)  # job id → wall time its POST was sent
    ended: dict[str, float] = field(default_factory=dict)  # job id → wall time this client saw it end
    model_of: dict[str, str] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # job id → its error

    def per_minute(self, *, skip: int = 0) -> float | None:
        """Jobs done per minute: from the first POST (or the `skip`-th job's end) to the last job's end; None when
        fewer than two jobs end after the skipped ones."""
        ends = sorted(t for job, t in self.ended.items() if job in self.timings)
        if len(ends) < skip + 2:
            return None
        start = ends[skip - 1] if skip else min(self.queued.values())
        return (len(ends) - skip) * 60 / (ends[-1] - start)


def run_load(gw: Gateway, mix: Sequence[str], *, in_flight: int, study_uid: str, series_uid: str,
             poll_s: float = 0.1) -> Load:
    """Queue the jobs of `mix` (model ids, in order) keeping `in_flight` queued or running, until all end; the
    statuses are read from the database (one query per poll) so the polling takes no CPU from the origin."""
    from sqlalchemy import select

    from functions.common.ai_models.jobs import ACTIVE, InferenceJob
    from functions.common.platform import db

    load, pending, active = Load(), list(mix), set()
    deadline = time.monotonic() + 300 + 120 * len(mix)
    while pending or active:
        while pending and len(active) < in_flight:
            model_id, t = pending.pop(0), time.time()
            job_id = queue(gw, model_id, study_uid, series_uid)
            load.queued[job_id], load.model_of[job_id] = t, model_id
            active.add(job_id)
        time.sleep(poll_s)
        with db.session_scope() as session:
            rows = session.execute(select(InferenceJob.id, InferenceJob.status, InferenceJob.error,
                                          InferenceJob.result).where(
                InferenceJob.id.in_([uuid.UUID(j) for j in active]))).all()
        now = time.time()
        for row in rows:
            if row.status in ACTIVE:
                continue
            job_id = str(row.id)
            active.discard(job_id)
            load.ended[job_id] = now
            if row.status == "done":
                load.timings[job_id] = row.result["timings"]
            else:
                load.failed[job_id] = row.error or row.status
        assert time.monotonic() < deadline, f"{len(active)} jobs still active after the deadline"
    return load
