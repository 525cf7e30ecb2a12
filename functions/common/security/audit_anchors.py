"""Anchors of the audit log's chain outside the database: now and then the newest row's id and chain
value are written to object storage (`audit-anchors/<id>.json`, with an HMAC of their own), and the
admin's chain check compares every anchor with the row it names. Someone who rewrites the whole
chain in the database, or cuts off its tail, cannot make the anchors agree.

Anchoring runs periodically (`local-dev/up` every `MCC_AUDIT_ANCHOR_INTERVAL` seconds; in a cluster a
scheduled job: `python -m functions.common.security.audit_anchors`) and after each chain check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.platform import db as database
from functions.common.platform.db import utcnow
from functions.common.platform.storage import ObjectStore, store
from functions.common.security.audit import AuditEvent
from functions.common.security.crypto import purpose_key

PREFIX = "audit-anchors"


@dataclass(frozen=True)
class AnchorCheck:
    """What the anchors say: all agree with their rows, how many there are, up to which row, the first that does not."""

    ok: bool
    anchors: int
    anchored_up_to: int | None
    first_broken_id: int | None


def _mac(row_id: int, chain_value: str) -> str:
    return hmac.new(purpose_key("audit-anchor"), f"{row_id}:{chain_value}".encode(), hashlib.sha256).hexdigest()


def _key(row_id: int) -> str:
    return f"{PREFIX}/{row_id:020d}.json"


def anchor(db: Session, objects: ObjectStore | None = None) -> int | None:
    """Pin the newest committed row outside the database; its id (None when the log is empty)."""
    objects = objects or store()
    row = db.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    if row is None:
        return None
    row_id, chain_value = row
    body = {"id": row_id, "hash": chain_value, "anchored_at": utcnow().isoformat(), "mac": _mac(row_id, chain_value)}
    objects.put_at(_key(row_id), json.dumps(body).encode())
    return row_id


def check(db: Session, objects: ObjectStore | None = None) -> AnchorCheck:
    """Every anchor is authentic and names a row that still holds the anchored chain value."""
    objects = objects or store()
    keys = objects.keys(PREFIX)
    last = None
    for key in keys:
        try:
            body = json.loads(objects.get(key))
            row_id, chain_value = int(body["id"]), str(body["hash"])
            authentic = hmac.compare_digest(str(body["mac"]), _mac(row_id, chain_value)) and key == _key(row_id)
        except (ValueError, KeyError, TypeError):
            return AnchorCheck(False, len(keys), last, _id_in(key))
        stored = db.scalar(select(AuditEvent.hash).where(AuditEvent.id == row_id))
        if not authentic or stored != chain_value:
            return AnchorCheck(False, len(keys), last, row_id)
        last = row_id
    return AnchorCheck(True, len(keys), last, None)


def _id_in(key: str) -> int | None:
    digits = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def main() -> None:
    """Anchor the head once (for a scheduled job)."""
    with database.session_scope() as session:
        row_id = anchor(session)
    print(json.dumps({"anchored": row_id}))


if __name__ == "__main__":
    main()
