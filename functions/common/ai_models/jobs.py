"""Inference jobs: a durable queue in PostgreSQL with leases, heartbeats, retries, cancel and a fair share.

Why not procrastinate: it has retries, cancellation and stalled-job detection, but it picks jobs by priority and
age only; a fair share between users (the next job goes to the user with the fewest running), progress reporting
and a result keyed by the job are this table's columns and one `SELECT … FOR UPDATE SKIP LOCKED` query, with
nothing else to run or migrate. Delivery is at least once: a job whose executor stopped heartbeating is claimed
again when its lease expires; its result is keyed by the job id, so a second store changes nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from functions.common.platform.db import Base, timestamp, utcnow, uuid_pk


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
CHANNEL = "inference_jobs"  # NOTIFY'd when a job is queued


class InferenceJob(Base):
    __tablename__ = "inference_jobs"
    __table_args__ = (
        Index("ix_inference_jobs_claimable", "status", "created_at", postgresql_where=text("status IN ('queued', "
                                                                                          "'running')")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # the bundle that ran: results say exactly what made them
    study_uid: Mapped[str] = mapped_column(String(64), index=True)
    series_uid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, server_default=JobStatus.QUEUED)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = timestamp(nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)
    started_at: Mapped[dt.datetime | None] = timestamp(nullable=True)
    finished_at: Mapped[dt.datetime | None] = timestamp(nullable=True)


class TooManyJobs(Exception):
    """A user already has their share of queued and running jobs."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} jobs per user may be queued or running")
        self.limit = limit


def enqueue(db: Session, *, user_id: uuid.UUID, model_id: uuid.UUID, version: int, digest: str, study_uid: str,
            series_uid: str, per_user: int, timeout_seconds: int = 600, max_attempts: int = 3) -> InferenceJob:
    """A new queued job, unless the user already has `per_user` active ones (their rows locked while counting)."""
    db.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"jobs:{user_id}"))))
    active = db.scalar(select(func.count()).select_from(InferenceJob).where(
        InferenceJob.user_id == user_id, InferenceJob.status.in_(ACTIVE)))
    if active >= per_user:
        raise TooManyJobs(per_user)
    job = InferenceJob(id=uuid.uuid4(), user_id=user_id, model_id=model_id, version=version, digest=digest,
                       study_uid=study_uid, series_uid=series_uid, timeout_seconds=timeout_seconds,
                       max_attempts=max_attempts, stage="queued")
    db.add(job)
    db.flush()
    db.execute(text(f"NOTIFY {CHANNEL}"))  # delivered at commit: an idle executor wakes at once
    return job


def claim(db: Session, owner: str, *, lease_seconds: float) -> InferenceJob | None:
    """The next job for executor `owner`, leased: a queued one, or a running one whose lease expired (its executor
    died), taken from the user with the fewest running jobs first, then the oldest. Jobs out of attempts fail."""
    running = (select(InferenceJob.user_id, func.count().label("n")).where(
        InferenceJob.status == JobStatus.RUNNING, InferenceJob.lease_until >= func.now())
        .group_by(InferenceJob.user_id).subquery())
    claimable = (InferenceJob.status == JobStatus.QUEUED) | (
        (InferenceJob.status == JobStatus.RUNNING) & (InferenceJob.lease_until < func.now()))
    while True:
        job = db.scalar(select(InferenceJob).outerjoin(running, running.c.user_id == InferenceJob.user_id)
                        .where(claimable).order_by(func.coalesce(running.c.n, 0), InferenceJob.created_at)
                        .limit(1).with_for_update(of=InferenceJob, skip_locked=True))
        if job is None:
            return None
        if job.cancel_requested:
            finish(db, job, JobStatus.CANCELLED, error="cancelled")
            continue
        if job.attempts >= job.max_attempts:
            finish(db, job, JobStatus.FAILED, error=job.error or f"gave up after {job.attempts} attempts (the"
                                                                  " executor stopped each time)")
            continue
        job.status, job.lease_owner, job.attempts = JobStatus.RUNNING, owner, job.attempts + 1
        job.lease_until = utcnow() + dt.timedelta(seconds=lease_seconds)
        job.started_at, job.stage, job.progress = job.started_at or utcnow(), "starting", 0.0
        db.flush()
        return job


def heartbeat(db: Session, job_id: uuid.UUID, owner: str, *, lease_seconds: float, stage: str | None = None,
              progress: float | None = None) -> bool:
    """Extend the lease (and report progress); False if the job is no longer this executor's or was cancelled."""
    values: dict = {"lease_until": utcnow() + dt.timedelta(seconds=lease_seconds)}
    if stage is not None:
        values["stage"] = stage
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, progress))
    row = db.execute(update(InferenceJob).where(
        InferenceJob.id == job_id, InferenceJob.lease_owner == owner, InferenceJob.status == JobStatus.RUNNING)
        .values(**values).returning(InferenceJob.cancel_requested)).first()
    return row is not None and not row.cancel_requested


def finish(db: Session, job: InferenceJob, status: JobStatus, *, error: str | None = None,
           result: dict | None = None) -> None:
    job.status, job.error, job.finished_at = status, error, utcnow()
    job.lease_owner, job.lease_until = None, None
    job.stage, job.progress = str(status), 1.0 if status == JobStatus.DONE else job.progress
    if result is not None:
        job.result = result
    db.flush()


def release(db: Session, job: InferenceJob, *, error: str) -> None:
    """A failed attempt that may be tried again (the service was busy, the archive away): back to the queue."""
    if job.attempts >= job.max_attempts:
        finish(db, job, JobStatus.FAILED, error=error)
        return
    job.status, job.error, job.lease_owner, job.lease_until, job.stage = JobStatus.QUEUED, error, None, None, "queued"
    db.flush()


def cancel(db: Session, job: InferenceJob) -> None:
    """A queued job is cancelled at once; a running one when its executor next heartbeats."""
    if job.status == JobStatus.QUEUED:
        finish(db, job, JobStatus.CANCELLED, error="cancelled")
    elif job.status == JobStatus.RUNNING:
        job.cancel_requested = True
        db.flush()
