"""The platform's rows read straight from PostgreSQL: what the API promises must hold in the database (and the
few rows a test moves back in time rather than waiting)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Select, select, update


def scalar(stmt: Select) -> Any:
    """One value from a fresh session (never an object cached by an earlier query)."""
    from functions.common.platform import db

    with db.session_scope() as session:
        return session.scalar(stmt)


def scalars(stmt: Select) -> list[Any]:
    from functions.common.platform import db

    with db.session_scope() as session:
        return list(session.scalars(stmt))


def user_row(email: str):
    from functions.common.accounts.tables import User

    return scalar(select(User).where(User.email == email.lower()))


def audit_events(action: str, *, actor_id: str | uuid.UUID | None = None) -> list:
    """Audit rows of one action, oldest first, optionally of one actor."""
    from functions.common.security.audit import AuditEvent

    stmt = select(AuditEvent).where(AuditEvent.action == action)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == uuid.UUID(str(actor_id)))
    return scalars(stmt.order_by(AuditEvent.id))


def age_refresh_token_past_grace(raw: str) -> None:
    """Make a used refresh token look first used longer ago than its reuse grace window, without waiting."""
    from functions.auth.sessions import REUSE_GRACE
    from functions.common.accounts.tables import RefreshToken
    from functions.common.platform import db
    from functions.common.security.crypto import token_hash

    with db.session_scope() as session:
        moved = session.execute(update(RefreshToken).where(RefreshToken.token_hash == token_hash(raw),
                                                           RefreshToken.used_at.is_not(None))
                                .values(used_at=RefreshToken.used_at - REUSE_GRACE - dt.timedelta(seconds=1))).rowcount
    assert moved == 1, "the refresh token was not used yet"
