"""Sessions: a short-lived access token plus a rotating refresh token with reuse detection."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from user_agents import parse as parse_user_agent

from functions.auth import events
from functions.common.accounts.tables import AuthSession, RefreshToken, User
from functions.common.platform.config import get_settings
from functions.common.platform.db import utcnow
from functions.common.platform.errors import NotAuthenticated, NotFound
from functions.common.security import tokens
from functions.common.security.crypto import token_hash

log = logging.getLogger(__name__)

# A refresh token may be presented again this long after its first use and still rotate: the portal and
# the viewer (two tabs, one cookie) refresh at once, and the slower one must not look like a thief.
REUSE_GRACE = dt.timedelta(seconds=20)


def _issue_pair(db: Session, user: User, session: AuthSession) -> dict:
    raw = secrets.token_urlsafe(32)
    db.add(RefreshToken(session_id=session.id, token_hash=token_hash(raw)))
    access = tokens.issue_access(user_id=user.id, session_id=session.id, role=user.role, status=user.status,
                                 amr=session.amr.split())
    return {"access_token": access, "refresh_token": raw, "token_type": "Bearer",
            "expires_in": get_settings().access_token_ttl}


def start(db: Session, user: User, *, amr: list[str], client_ip: str, user_agent: str) -> dict:
    """Open a session for a fully authenticated user; return its first token pair."""
    session = AuthSession(
        id=uuid.uuid4(), user_id=user.id, amr=" ".join(amr), ip=client_ip if client_ip != "unknown" else None,
        user_agent=user_agent, created_at=utcnow(), last_used_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(seconds=get_settings().refresh_token_ttl),
    )
    db.add(session)
    db.flush()
    events.record(db, "login", user, client_ip=client_ip, details={"amr": amr, "session": str(session.id)})
    return _issue_pair(db, user, session)


def refresh(db: Session, raw: str, *, client_ip: str) -> dict:
    """Rotate a refresh token into a new pair of the same session. Presenting it again within `REUSE_GRACE`
    of its first use rotates it again (two clients refreshing at once); later, it revokes the whole session
    (token theft)."""
    row = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw)).with_for_update())
    if row is None:
        raise NotAuthenticated("Your session has ended; sign in again.", code="invalid_token")
    session = db.get(AuthSession, row.session_id)
    user = db.get(User, session.user_id)
    now = utcnow()
    if row.used_at is not None and now - row.used_at > REUSE_GRACE:
        revoke(session, reason="refresh_token_reused")
        events.record(db, "token_reuse", user, outcome="failure", client_ip=client_ip,
                      details={"session": str(session.id)})
        db.commit()
        log.warning("refresh token reused; session revoked", extra={"session": str(session.id)})
        raise NotAuthenticated("This sign-in was ended because an old token was reused; sign in again.",
                               code="token_reused")
    if session.revoked_at is not None or session.expires_at < now or user.status == "deactivated":
        raise NotAuthenticated("Your session has ended; sign in again.", code="invalid_token")
    if row.used_at is None:
        row.used_at = now
    else:
        log.info("refresh token presented again within the grace window", extra={"session": str(session.id)})
    session.last_used_at = now
    return _issue_pair(db, user, session)


def revoke(session: AuthSession, *, reason: str) -> None:
    """End one session (a no-op when it has already ended)."""
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = utcnow(), reason


def revoke_all(db: Session, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None) -> None:
    """End every session of a user, but `keep`."""
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    db.execute(stmt.values(revoked_at=utcnow(), revoked_reason=reason))


def sign_out(db: Session, user: User, session_id: uuid.UUID | None, *, client_ip: str) -> None:
    """End the caller's own session."""
    session = db.get(AuthSession, session_id)
    if session is not None:
        revoke(session, reason="logout")
    events.record(db, "logout", user, client_ip=client_ip)


def sign_out_everywhere(db: Session, user: User, *, client_ip: str) -> None:
    """End every session of the caller."""
    revoke_all(db, user.id, reason="logout_all")
    events.record(db, "logout_all", user, client_ip=client_ip)


def active_sessions(db: Session, user_id: uuid.UUID, current: uuid.UUID | None) -> list[dict]:
    """A user's sessions that are still open, most recently used first, the caller's own marked."""
    rows = db.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None),
                                  AuthSession.expires_at > utcnow()).order_by(AuthSession.last_used_at.desc())
    )
    return [
        {"id": str(s.id), "device": str(parse_user_agent(s.user_agent or "")) if s.user_agent else "Unknown device",
         "ip": str(s.ip) if s.ip else None, "created_at": s.created_at.isoformat(),
         "last_used_at": s.last_used_at.isoformat(), "current": s.id == current}
        for s in rows
    ]


def revoke_one(db: Session, user: User, session_id: uuid.UUID, *, client_ip: str) -> None:
    """End one of the user's own open sessions (another's, or an ended one, is not found)."""
    session = db.get(AuthSession, session_id)
    if session is None or session.user_id != user.id or session.revoked_at is not None:
        raise NotFound("No such active session.")
    revoke(session, reason="user_revoked")
    events.record(db, "session_revoked", user, client_ip=client_ip, target=f"session:{session_id}")
