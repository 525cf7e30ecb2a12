"""Guessing throttling kept in PostgreSQL, so every instance sees the same counts.

Sign-in (password and second factor), re-authentication (`passwords.require_password`) and every other check of a
TOTP or recovery code (`attempt`) share one budget per account and per client address: a stolen session gets no
extra guesses at the password or the code. `refuse_at_limit` is the one counting rule, also for sharing's look-ups
of addresses without an account."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from functions.common.accounts.tables import LoginAttempt
from functions.common.platform.config import get_settings
from functions.common.platform.db import utcnow
from functions.common.platform.errors import NotAuthenticated, TooManyRequests
from functions.common.security.crypto import keyed_hash


def _keys(email: str, ip: str) -> list[tuple[str, str, int]]:
    s = get_settings()
    return [
        ("account", keyed_hash(email.lower(), purpose="login-account"), s.login_max_failures_account),
        ("ip", keyed_hash(ip, purpose="login-ip"), s.login_max_failures_ip),
    ]


def refuse_at_limit(db: Session, *, kind: str, key: str, limit: int, window: dt.timedelta, message: str) -> None:
    """Raise TooManyRequests (429, Retry-After until the oldest counted attempt leaves the window) once
    `limit` attempts of this kind and key fall within `window`."""
    since = utcnow() - window
    count, oldest = db.execute(select(func.count(), func.min(LoginAttempt.at)).where(
        LoginAttempt.kind == kind, LoginAttempt.key == key, LoginAttempt.at > since)).one()
    if count >= limit:
        raise TooManyRequests(message, retry_after=math.ceil((oldest + window - utcnow()).total_seconds()))


def check(db: Session, *, email: str, ip: str) -> None:
    """Raise TooManyRequests (429, Retry-After) while the account or the address is locked out (known or not)."""
    window = dt.timedelta(seconds=get_settings().login_window)
    for kind, key, limit in _keys(email, ip):
        refuse_at_limit(db, kind=kind, key=key, limit=limit, window=window,
                        message="Too many failed sign-in attempts. Wait and try again, or reset your password.")


def record_failure(db: Session, *, email: str, ip: str) -> None:
    """Count a failed sign-in or re-authentication against both the account and the address."""
    for kind, key, _ in _keys(email, ip):
        db.add(LoginAttempt(kind=kind, key=key, at=utcnow()))


def clear_account(db: Session, *, email: str) -> None:
    """A successful sign-in or re-authentication forgives the account's failures (not the address's); with TOTP on,
    only its second factor does (`passwords.forgive_failures`)."""
    key = keyed_hash(email.lower(), purpose="login-account")
    db.execute(delete(LoginAttempt).where(LoginAttempt.kind == "account", LoginAttempt.key == key))


@contextlib.contextmanager
def attempt(db: Session, *, email: str, ip: str) -> Iterator[None]:
    """One guess at a second factor within the sign-in budget: refused (429) while the account or address is locked;
    a NotAuthenticated inside is a failure, counted and committed (the request's other changes rolled back) although
    the request fails; a success forgives the account."""
    check(db, email=email, ip=ip)
    try:
        yield
    except NotAuthenticated:
        db.rollback()
        record_failure(db, email=email, ip=ip)
        db.commit()
        raise
    clear_account(db, email=email)
