"""The inference queue in PostgreSQL: claims are exclusive, fair between users, leased and rescued when an
executor dies, retried a bounded number of times, cancellable; a user's share of the queue is bounded."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import update

from functions.common.ai_models import jobs
from functions.common.ai_models.jobs import InferenceJob, JobStatus
from functions.common.ai_models.tables import AiModel
from functions.common.platform import db as database

LEASE = 60.0
pytestmark = pytest.mark.usefixtures("empty_job_queue")


@pytest.fixture
def person(world, db):
    """A committed account (the queue is used from sessions of its own)."""

    def make():
        someone = world.person()
        db.commit()
        return someone

    return make


@pytest.fixture
def model(world, db):
    owner = world.person("researcher")
    row = AiModel(id=uuid.uuid4(), owner_id=owner.id, name="Queue test")
    db.add(row)
    db.commit()
    return row


def _enqueue(user, model, *, per_user: int = 10, **kwargs) -> uuid.UUID:
    with database.session_scope() as session:
        job = jobs.enqueue(session, user_id=user.id, model_id=model.id, version=1, digest="0" * 64,
                           study_uid="1.2.3", series_uid="1.2.3.4", per_user=per_user, **kwargs)
        return job.id


def _claim(owner: str = "executor-1", lease: float = LEASE) -> uuid.UUID | None:
    with database.session_scope() as session:
        job = jobs.claim(session, owner, lease_seconds=lease)
        return job.id if job else None


def _job(job_id) -> InferenceJob:
    with database.session_scope() as session:
        job = session.get(InferenceJob, job_id)
        session.expunge(job)
        return job


def _expire_lease(job_id) -> None:
    """What an executor that died looks like to the others: a lease in the past."""
    with database.session_scope() as session:
        session.execute(update(InferenceJob).where(InferenceJob.id == job_id)
                        .values(lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


def test_a_claimed_job_is_leased_to_its_executor(person, model):
    job_id = _enqueue(person(), model)
    assert _claim("executor-1") == job_id
    job = _job(job_id)
    assert job.status == JobStatus.RUNNING and job.lease_owner == "executor-1" and job.attempts == 1
    assert job.lease_until > dt.datetime.now(dt.UTC)
    assert _claim("executor-2") is None  # leased: nobody else gets it


def test_the_next_job_goes_to_the_user_with_the_fewest_running(person, model):
    busy, other = person(), person()
    first = _enqueue(busy, model)
    second = _enqueue(busy, model)
    theirs = _enqueue(other, model)
    assert _claim() == first
    assert _claim() == theirs  # not busy's second, although it is older
    assert _claim() == second


def test_a_job_whose_executor_died_is_claimed_again_and_the_old_executor_lets_go(person, model):
    job_id = _enqueue(person(), model)
    assert _claim("executor-1") == job_id
    _expire_lease(job_id)
    assert _claim("executor-2") == job_id
    job = _job(job_id)
    assert job.lease_owner == "executor-2" and job.attempts == 2
    with database.session_scope() as session:
        assert not jobs.heartbeat(session, job_id, "executor-1", lease_seconds=LEASE)
        assert jobs.heartbeat(session, job_id, "executor-2", lease_seconds=LEASE, stage="model", progress=0.5)
    assert _job(job_id).stage == "model" and _job(job_id).progress == 0.5


def test_a_job_that_keeps_losing_its_executor_fails_after_its_attempts(person, model):
    job_id = _enqueue(person(), model, max_attempts=2)
    for _ in range(2):
        assert _claim() == job_id
        _expire_lease(job_id)
    assert _claim() is None
    job = _job(job_id)
    assert job.status == JobStatus.FAILED and "gave up after 2 attempts" in job.error


def test_cancel_ends_a_queued_job_at_once_and_a_running_one_at_its_next_heartbeat(person, model):
    user = person()
    queued, running = _enqueue(user, model), _enqueue(user, model)
    assert _claim() == queued
    with database.session_scope() as session:
        jobs.cancel(session, session.get(InferenceJob, running))  # still queued: cancelled now
        jobs.cancel(session, session.get(InferenceJob, queued))  # running: flagged
    assert _job(running).status == JobStatus.CANCELLED
    with database.session_scope() as session:
        assert not jobs.heartbeat(session, queued, "executor-1", lease_seconds=LEASE)


def test_a_released_job_is_tried_again_until_its_attempts_are_spent(person, model):
    job_id = _enqueue(person(), model, max_attempts=2)
    for expected in (JobStatus.QUEUED, JobStatus.FAILED):
        assert _claim() == job_id
        with database.session_scope() as session:
            jobs.release(session, session.get(InferenceJob, job_id), error="the model service was busy")
        assert _job(job_id).status == expected
    assert _job(job_id).error == "the model service was busy"


def test_a_user_may_not_fill_the_queue(person, model):
    user = person()
    for _ in range(3):
        _enqueue(user, model, per_user=3)
    with pytest.raises(jobs.TooManyJobs):
        _enqueue(user, model, per_user=3)
    _enqueue(person(), model, per_user=3)  # others still may


def test_two_executors_competing_claim_each_job_exactly_once(person, model):
    ids = {_enqueue(person(), model) for _ in range(12)}
    claimed: dict[str, list] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def work(name: str) -> None:
        start.wait()
        while (job_id := _claim(name)) is not None:
            claimed[name].append(job_id)

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = claimed["a"] + claimed["b"]
    assert sorted(everything) == sorted(ids) and len(set(everything)) == len(everything)
