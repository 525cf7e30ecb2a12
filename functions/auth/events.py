"""Audit records of what happened to a user's own account: one place that names the account as the actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from functions.common.accounts.tables import User
from functions.common.security import audit


def record(db: Session, action: str, user: User, *, client_ip: str | None, outcome: str = "success",
           target: str | None = None, details: dict[str, Any] | None = None) -> None:
    """Append an audit event whose actor is `user` (by id and current email)."""
    audit.record(db, action, outcome=outcome, actor_id=user.id, actor_email=user.email, client_ip=client_ip,
                 target=target, details=details)
