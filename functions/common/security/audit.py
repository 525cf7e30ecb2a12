"""The append-only, hash-chained audit log of security events.

Each row carries an HMAC-SHA256 (key `purpose_key("audit-chain")`, held by the functions, never in
the database) over its content and the previous row's MAC: someone who can write to the database but
does not hold the key cannot rewrite a row and the chain after it. Rows from before the chain was
keyed (plain SHA-256, `keyed` false) may only precede keyed ones. `audit_anchors.py` pins the chain's
head outside the database, so a rewrite of the whole chain or a cut-off tail shows too.

`record` appends one event in the caller's transaction. `record_once` is for reads that come in
bursts (a viewer fetching hundreds of frames of one study): one event per access and window,
decided in PostgreSQL so that every worker and instance of the platform together write one row;
each process remembers the windows it saw, so a burst costs the database one query per process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from functions.common.platform.db import Base, timestamp, utcnow
from functions.common.security.crypto import purpose_key


class AuditEvent(Base):
    """Append-only security log; each row's hash covers the previous row's hash."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_action_at", "actor_id", "action", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = timestamp()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict] = mapped_column(JSONB, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    keyed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class AuditWindow(Base):
    """Until when an access (a keyed digest of who, what, from where) counts as already recorded."""

    __tablename__ = "audit_windows"
    __table_args__ = (Index("ix_audit_windows_until", "until"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[dt.datetime] = timestamp()


GENESIS = "0" * 64
_LOCK_KEY = 0x4D4343_41554454  # "MCC AUDT": serialises appends so the chain has one order


def _digest(prev_hash: str, event: AuditEvent) -> str:
    """The row's chain value: HMAC-SHA256 under the audit key, or plain SHA-256 for rows from before."""
    payload = _payload(prev_hash, event)
    if event.keyed:
        return hmac.new(purpose_key("audit-chain"), payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


def _payload(prev_hash: str, event: AuditEvent) -> bytes:
    payload = json.dumps(
        {
            "prev": prev_hash,
            "at": event.at.isoformat(),
            "actor_id": str(event.actor_id) if event.actor_id else None,
            "actor_email": event.actor_email,
            "action": event.action,
            "target": event.target,
            "client_ip": event.client_ip,
            "outcome": event.outcome,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return payload.encode()


def record(
    db: Session,
    action: str,
    *,
    outcome: str = "success",
    actor_id: uuid.UUID | None = None,
    actor_email: str | None = None,
    target: str | None = None,
    client_ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction, chained to the newest row."""
    db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = db.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    event = AuditEvent(
        at=utcnow(), actor_id=actor_id, actor_email=actor_email, action=action, target=target,
        client_ip=client_ip, outcome=outcome, details=details or {}, prev_hash=prev, keyed=True,
    )
    event.hash = _digest(prev, event)
    db.add(event)
    db.flush()
    return event


def verify_chain(db: Session) -> tuple[bool, int, int | None]:
    """Walk the chain; return (intact, rows checked, id of the first row that does not match)."""
    prev = GENESIS
    checked = 0
    keyed_seen = False
    for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)):
        if event.prev_hash != prev or _digest(prev, event) != event.hash or (keyed_seen and not event.keyed):
            return False, checked, event.id
        keyed_seen = keyed_seen or event.keyed
        prev = event.hash
        checked += 1
    return True, checked, None


# ------------------------------------------------------------------------------- bursts of reads

_OPEN_WINDOW = text("""
    INSERT INTO audit_windows (key, until) VALUES (:key, now() + make_interval(secs => :seconds))
    ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE audit_windows.until <= now()
    RETURNING extract(epoch FROM until - now())
""")  # a row comes back only when this call opened the window (new, or the old one had passed)
_REMAINING = text("SELECT extract(epoch FROM until - now()) FROM audit_windows WHERE key = :key")
_PURGE_EVERY = 3600.0  # seconds between removals of long-closed windows, per process


class _SeenWindows:
    """This process's memory of open windows: key → monotonic deadline."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deadlines: dict[str, float] = {}
        self.next_purge = 0.0

    def open(self, key: str) -> bool:
        with self.lock:
            return self.deadlines.get(key, 0.0) > time.monotonic()

    def remember(self, key: str, seconds: float) -> None:
        with self.lock:
            if len(self.deadlines) > 50_000:
                self.deadlines.clear()
            self.deadlines[key] = time.monotonic() + seconds

    def purge_due(self) -> bool:
        with self.lock:
            now = time.monotonic()
            if now < self.next_purge:
                return False
            self.next_purge = now + _PURGE_EVERY
            return True


_seen = _SeenWindows()


def record_once(db: Session, action: str, *, window: float, actor_id: uuid.UUID, client_ip: str | None,
                target: str, details: dict[str, Any], seen: _SeenWindows | None = None) -> bool:
    """Record the event unless the same actor, action, target, details and address were recorded in the
    last `window` seconds, by any process; True when it was recorded. `seen` stands for another process."""
    seen = seen or _seen
    identity = json.dumps([action, str(actor_id), client_ip, target, details], sort_keys=True)
    key = hashlib.sha256(identity.encode()).hexdigest()
    if seen.open(key):
        return False
    if seen.purge_due():
        db.execute(text("DELETE FROM audit_windows WHERE until < now() - interval '1 hour'"))
    opened = db.scalar(_OPEN_WINDOW, {"key": key, "seconds": window})
    remaining = opened if opened is not None else db.scalar(_REMAINING, {"key": key})
    seen.remember(key, float(remaining or 0))
    if opened is not None:
        record(db, action, actor_id=actor_id, client_ip=client_ip, target=target, details=details)
    return opened is not None


# --------------------------------------------------------------------------------- refused reads

REFUSALS_PER_WINDOW = 20
REFUSAL_WINDOW = dt.timedelta(minutes=10)


def record_refusal(db: Session, *, actor_id: uuid.UUID, client_ip: str | None, target: str, exists: bool) -> bool:
    """Record a read of something the caller may not see (or that does not exist), at most
    REFUSALS_PER_WINDOW per user and window: someone probing cannot flood the log. The row that reaches
    the limit says so. True when a row was written."""
    db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})  # counted and appended in one order
    recent = db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.actor_id == actor_id, AuditEvent.action == "access_refused",
        AuditEvent.at > utcnow() - REFUSAL_WINDOW))
    if recent >= REFUSALS_PER_WINDOW:
        return False
    details: dict[str, Any] = {"exists": exists}
    if recent + 1 == REFUSALS_PER_WINDOW:
        details["limit_reached"] = True  # further refusals in this window are not recorded
    record(db, "access_refused", outcome="failure", actor_id=actor_id, client_ip=client_ip, target=target,
           details=details)
    return True
