"""User administration and the audit-log reader."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from functions.auth import accounts, sessions
from functions.common import audit
from functions.common.db import get_or_404
from functions.common.errors import Conflict, ValidationFailed
from functions.common.http import RequestContext, paging
from functions.common.models import ROLES, STATUSES, AuditEvent, Certificate, User


def _page(ctx: RequestContext) -> tuple[int, int]:
    return paging(ctx.request.args, default_limit=50, max_limit=100)


def _choice(ctx: RequestContext, name: str, allowed: tuple[str, ...]) -> str | None:
    value = ctx.request.args.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed.field(name, "must be one of " + ", ".join(allowed))
    return value


def list_users(ctx: RequestContext) -> dict:
    limit, offset = _page(ctx)
    stmt = select(User)
    if q := (ctx.request.args.get("q") or "").strip():
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.email.ilike(pattern), User.name.ilike(pattern)))
    if role := _choice(ctx, "role", ROLES):
        stmt = stmt.where(User.role == role)
    if status := _choice(ctx, "status", STATUSES):
        stmt = stmt.where(User.status == status)
    total = ctx.db.scalar(select(func.count()).select_from(stmt.subquery()))
    users = ctx.db.scalars(stmt.order_by(User.created_at.desc()).limit(limit).offset(offset))
    return {"items": [accounts.serialize(ctx.db, u) for u in users], "total": total}


def set_active(ctx: RequestContext, user_id: str, *, active: bool) -> dict:
    user = get_or_404(ctx.db, User, user_id, what="user")
    if user.id == ctx.principal.user_id:
        raise Conflict("You cannot deactivate your own account.", code="self")
    if active:
        if user.status != "deactivated":
            raise Conflict("This account is not deactivated.", code="not_deactivated")
        approved = ctx.db.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.user_id == user.id, Certificate.status == "approved"))
        user.status = "pending" if user.role == "health_professional" and not approved else "active"
    else:
        user.status = "deactivated"
        sessions.revoke_all(ctx.db, user.id, reason="deactivated")
    audit.record(ctx.db, "user_reactivated" if active else "user_deactivated", actor_id=ctx.principal.user_id,
                 client_ip=ctx.client_ip, target=f"user:{user.id}")
    return accounts.serialize(ctx.db, user)


def _date(ctx: RequestContext, name: str) -> dt.datetime | None:
    raw = ctx.request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.field(name, "must be an ISO date such as 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def list_audit(ctx: RequestContext) -> dict:
    limit, offset = _page(ctx)
    stmt = select(AuditEvent)
    if action := ctx.request.args.get("action"):
        stmt = stmt.where(AuditEvent.action == action)
    if actor := ctx.request.args.get("actor"):
        actor_ids = select(User.id).where(User.email == accounts.normalise_email(actor))
        stmt = stmt.where(or_(AuditEvent.actor_email == accounts.normalise_email(actor),
                              AuditEvent.actor_id.in_(actor_ids)))
    if outcome := _choice(ctx, "outcome", ("success", "failure")):
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if since := _date(ctx, "since"):
        stmt = stmt.where(AuditEvent.at >= since)
    if until := _date(ctx, "until"):
        stmt = stmt.where(AuditEvent.at <= until)
    total = ctx.db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = ctx.db.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)).all()
    actor_ids = {r.actor_id for r in rows if r.actor_id}
    emails = {uid: email for uid, email in ctx.db.execute(select(User.id, User.email).where(User.id.in_(actor_ids)))}
    return {"items": [{
        "id": r.id, "at": r.at.isoformat(), "actor_email": r.actor_email or emails.get(r.actor_id),
        "action": r.action, "target": r.target, "client_ip": r.client_ip, "outcome": r.outcome, "details": r.details,
    } for r in rows], "total": total}


def verify_audit(ctx: RequestContext) -> dict:
    ok, checked, broken = audit.verify_chain(ctx.db)
    return {"ok": ok, "checked": checked, "first_broken_id": broken}
