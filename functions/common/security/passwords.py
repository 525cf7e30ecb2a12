"""Password hashing (argon2id) and the strength rules a new password must meet."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from functions.common.accounts.tables import User
from functions.common.platform.config import get_settings
from functions.common.platform.errors import NotAuthenticated, ValidationFailed
from functions.common.security import audit, throttle

MIN_LENGTH = 12
MIN_SCORE = 3


@functools.cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher() -> PasswordHasher:
    s = get_settings()
    return _hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)


@functools.cache
def _dummy_hash() -> str:
    return hasher().hash("timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash, spend the same time and fail (no user enumeration)."""
    try:
        return hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return hasher().check_needs_rehash(stored)


def check_strength(password: str, *, field: str = "password", user_inputs: list[str] = ()) -> None:
    """Refuse short or guessable passwords with advice the user can follow."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed.field(field, f"must be at least {MIN_LENGTH} characters", code="weak_password")
    result = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_SCORE:
        feedback = result["feedback"]
        advice = feedback.get("warning") or ""
        suggestions = " ".join(feedback.get("suggestions") or [])
        message = "is too easy to guess" + (f" ({advice})" if advice else "") + (f". {suggestions}" if suggestions else "")
        raise ValidationFailed.field(field, message.strip(), code="weak_password")


def require_password(db: Session, user: User, password: str, *, client_ip: str) -> None:
    """Re-authentication for sensitive actions (password, email, 2FA changes; deleting a study; linking a social
    identity), throttled with sign-in: one budget of wrong passwords per account and per client address (429 with
    Retry-After when spent). A wrong password is audited and counted, the records kept although the request fails;
    a right one forgives the account as `forgive_failures` says."""
    throttle.check(db, email=user.email, ip=client_ip)
    if not verify_password(user.password_hash, password):
        throttle.record_failure(db, email=user.email, ip=client_ip)
        audit.record(db, "reauth", outcome="failure", actor_id=user.id, actor_email=user.email, client_ip=client_ip)
        db.commit()
        raise NotAuthenticated("The password is not right.", code="invalid_credentials")
    forgive_failures(db, user)


def forgive_failures(db: Session, user: User) -> None:
    """A right password forgives the account's failures only when it is the account's last factor: with TOTP on,
    only a right code does (`throttle.attempt`), or a known password would reset the count of code guesses."""
    if not user.totp_enabled:
        throttle.clear_account(db, email=user.email)
