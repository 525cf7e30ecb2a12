"""The append-only, hash-chained audit log of security events."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from functions.common.models import AuditEvent, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x4D4343_41554454  # "MCC AUDT": serialises appends so the chain has one order


def _digest(prev_hash: str, event: AuditEvent) -> str:
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
    return hashlib.sha256(payload.encode()).hexdigest()


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
        client_ip=client_ip, outcome=outcome, details=details or {}, prev_hash=prev,
    )
    event.hash = _digest(prev, event)
    db.add(event)
    db.flush()
    return event


def verify_chain(db: Session) -> tuple[bool, int, int | None]:
    """Walk the chain; return (intact, rows checked, id of the first row that does not match)."""
    prev = GENESIS
    checked = 0
    for event in db.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)):
        if event.prev_hash != prev or _digest(prev, event) != event.hash:
            return False, checked, event.id
        prev = event.hash
        checked += 1
    return True, checked, None
