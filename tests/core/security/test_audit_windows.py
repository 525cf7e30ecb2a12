"""Repeated reads are audited once per window for all processes together: the window lives in
PostgreSQL, each process only remembers what it has already seen."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select, text, update

from functions.common.security import audit
from functions.common.security.audit import AuditEvent, AuditWindow, _SeenWindows


def _views(db, target: str) -> int:
    return db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.target == target))


def _view(db, seen: _SeenWindows, actor: uuid.UUID, target: str, *, window: float = 300.0) -> bool:
    return audit.record_once(db, "study_view", window=window, actor_id=actor, client_ip="10.0.0.7", target=target,
                             details={"what": "frames"}, seen=seen)


def test_two_workers_reading_the_same_study_write_one_record(db):
    actor, target = uuid.uuid4(), f"study:2.25.{uuid.uuid4().int}"
    worker_a, worker_b = _SeenWindows(), _SeenWindows()
    assert _view(db, worker_a, actor, target) is True
    assert _view(db, worker_a, actor, target) is False   # this process remembers
    assert _view(db, worker_b, actor, target) is False   # the database remembers for the other one
    assert _views(db, target) == 1


def test_another_kind_of_read_or_another_reader_is_its_own_record(db):
    actor, target = uuid.uuid4(), f"study:2.25.{uuid.uuid4().int}"
    seen = _SeenWindows()
    assert _view(db, seen, actor, target)
    assert audit.record_once(db, "study_view", window=300, actor_id=actor, client_ip="10.0.0.7", target=target,
                             details={"what": "metadata"}, seen=seen)
    assert _view(db, seen, uuid.uuid4(), target)
    assert _views(db, target) == 3


def test_after_the_window_the_next_read_is_recorded_again(db):
    actor, target = uuid.uuid4(), f"study:2.25.{uuid.uuid4().int}"
    assert _view(db, _SeenWindows(), actor, target)
    db.execute(update(AuditWindow).values(until=text("now() - interval '1 second'"))
               .where(AuditWindow.until > func.now()))  # every open window has passed
    assert _view(db, _SeenWindows(), actor, target)
    assert _views(db, target) == 2


def test_a_process_keeps_its_memory_only_as_long_as_the_window(db):
    actor, target = uuid.uuid4(), f"study:2.25.{uuid.uuid4().int}"
    seen = _SeenWindows()
    assert _view(db, seen, actor, target, window=300)
    key = next(iter(seen.deadlines))
    assert 290 < seen.deadlines[key] - time.monotonic() <= 300
