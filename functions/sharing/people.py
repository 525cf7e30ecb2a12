"""Other users as sharing shows and finds them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.errors import ValidationFailed
from functions.common.models import User

ROLE_NAMES = {"health_professional": "health professionals", "researcher": "researchers"}


def person(user: User) -> dict:
    return {"id": str(user.id), "email": user.email, "name": user.name, "role": user.role}


def active_user_by_email(db: Session, email: str) -> User:
    """An existing, active researcher or health professional; anything else is `unknown_user`."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.status != "active" or user.role not in ROLE_NAMES:
        raise ValidationFailed("No active researcher or health professional has this email address; "
                               "they must have an approved account first.", code="unknown_user",
                               errors=[{"field": "email", "message": "no active account with this address"}])
    return user
