"""Sessions: a short-lived access token plus a rotating refresh token with reuse detection."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from user_agents import parse as parse_user_agent

from functions.common import audit, tokens
from functions.common.crypto import token_hash
from functions.common.errors import NotAuthenticated, NotFound
from functions.common.http import ACCESS_COOKIE, CSRF_COOKIE, RequestContext
from functions.common.models import AuthSession, RefreshToken, User, utcnow

log = logging.getLogger(__name__)

REFRESH_COOKIE = "mcc_refresh"
REFRESH_PATH = "/api/auth"


def _issue_pair(ctx: RequestContext, user: User, session: AuthSession) -> dict:
    raw = secrets.token_urlsafe(32)
    ctx.db.add(RefreshToken(session_id=session.id, token_hash=token_hash(raw)))
    access = tokens.issue_access(user_id=user.id, session_id=session.id, role=user.role, status=user.status,
                                 amr=session.amr.split())
    return {"access_token": access, "refresh_token": raw, "token_type": "Bearer",
            "expires_in": ctx.settings.access_token_ttl}


def deliver(ctx: RequestContext, pair: dict, *, api_client: bool) -> dict:
    """Hand tokens to the caller: in the body for API clients, as cookies for browsers."""
    if api_client:
        return pair
    ttl = ctx.settings.refresh_token_ttl
    ctx.set_cookie(ACCESS_COOKIE, pair["access_token"], max_age=ttl)
    ctx.set_cookie(REFRESH_COOKIE, pair["refresh_token"], max_age=ttl, path=REFRESH_PATH)
    ctx.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), max_age=ttl, http_only=False)
    return {}


def clear_cookies(ctx: RequestContext) -> None:
    ctx.delete_cookie(ACCESS_COOKIE)
    ctx.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
    ctx.delete_cookie(CSRF_COOKIE)


def start(ctx: RequestContext, user: User, *, amr: list[str], api_client: bool) -> dict:
    """Open a session for a fully authenticated user and hand out its first token pair."""
    session = AuthSession(
        id=uuid.uuid4(), user_id=user.id, amr=" ".join(amr), ip=ctx.client_ip if ctx.client_ip != "unknown" else None,
        user_agent=ctx.user_agent, created_at=utcnow(), last_used_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(seconds=ctx.settings.refresh_token_ttl),
    )
    ctx.db.add(session)
    ctx.db.flush()
    audit.record(ctx.db, "login", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 details={"amr": amr, "session": str(session.id)})
    return deliver(ctx, _issue_pair(ctx, user, session), api_client=api_client)


def refresh(ctx: RequestContext, raw: str, *, api_client: bool) -> dict:
    """Rotate a refresh token; presenting a used one revokes its whole session (token theft)."""
    row = ctx.db.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash(raw)).with_for_update())
    if row is None:
        raise NotAuthenticated("Your session has ended; sign in again.", code="invalid_token")
    session = ctx.db.get(AuthSession, row.session_id)
    user = ctx.db.get(User, session.user_id)
    if row.used_at is not None:
        revoke(ctx.db, session, reason="refresh_token_reused")
        audit.record(ctx.db, "token_reuse", outcome="failure", actor_id=user.id, actor_email=user.email,
                     client_ip=ctx.client_ip, details={"session": str(session.id)})
        ctx.db.commit()
        log.warning("refresh token reused; session revoked", extra={"session": str(session.id)})
        raise NotAuthenticated("This sign-in was ended because an old token was reused; sign in again.",
                               code="token_reused")
    if session.revoked_at is not None or session.expires_at < utcnow() or user.status == "deactivated":
        raise NotAuthenticated("Your session has ended; sign in again.", code="invalid_token")
    row.used_at = utcnow()
    session.last_used_at = utcnow()
    return deliver(ctx, _issue_pair(ctx, user, session), api_client=api_client)


def revoke(db: Session, session: AuthSession, *, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = utcnow(), reason


def revoke_all(db: Session, user_id: uuid.UUID, *, reason: str, keep: uuid.UUID | None = None) -> None:
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    db.execute(stmt.values(revoked_at=utcnow(), revoked_reason=reason))


def active_sessions(db: Session, user_id: uuid.UUID, current: uuid.UUID) -> list[dict]:
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


def revoke_one(db: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    session = db.get(AuthSession, session_id)
    if session is None or session.user_id != user_id or session.revoked_at is not None:
        raise NotFound("No such active session.")
    revoke(db, session, reason="user_revoked")
