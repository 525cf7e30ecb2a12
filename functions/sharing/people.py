"""Other users as sharing shows and finds them."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.accounts.tables import LoginAttempt, User
from functions.common.platform.config import get_settings
from functions.common.platform.db import session_scope, utcnow
from functions.common.platform.errors import ValidationFailed
from functions.common.security import throttle
from functions.common.security.crypto import keyed_hash

ROLE_NAMES = {"health_professional": "health professionals", "researcher": "researchers"}


LOOKUP_WINDOW = dt.timedelta(hours=1)


def active_user_by_email(db: Session, email: str, *, asker: uuid.UUID) -> User:
    """An existing, active researcher or health professional; anything else is `unknown_user`.

    Telling unknown addresses apart is what sharing needs, and what an account harvester wants: each
    user may name only so many addresses without an active account per hour (then 429), counted in
    PostgreSQL like failed sign-ins.
    """
    key = keyed_hash(str(asker), purpose="email-lookup")
    throttle.refuse_at_limit(db, kind="lookup", key=key, limit=get_settings().email_lookup_max_misses,
                             window=LOOKUP_WINDOW,
                             message="Too many addresses without an account were tried; wait and try again.")
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.status != "active" or user.role not in ROLE_NAMES:
        with session_scope() as own:  # kept although this request fails
            own.add(LoginAttempt(kind="lookup", key=key, at=utcnow()))
        raise ValidationFailed("No active researcher or health professional has this email address; "
                               "they must have an approved account first.", code="unknown_user",
                               errors=[{"field": "email", "message": "no active account with this address"}])
    return user
