"""User administration and the audit-log reader."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from functions.auth import accounts, sessions
from functions.common.accounts.tables import ROLES, STATUSES, Certificate, User
from functions.common.platform.db import get_or_404
from functions.common.platform.errors import Conflict, ValidationFailed
from functions.common.security import audit, audit_anchors
from functions.common.security.audit import AuditEvent
from functions.common.security.tokens import Principal

OUTCOMES = ("success", "failure")
_TEXT = {"type": "string"}
_WHEN = {"type": "string", "format": "date-time"}
# The query parameters of the two lists, as their OpenAPI documents declare them (`from_query` reads them).
USER_QUERY = {"q": _TEXT, "role": {"enum": list(ROLES)}, "status": {"enum": list(STATUSES)}}
AUDIT_QUERY = {"action": _TEXT, "actor": _TEXT, "outcome": {"enum": list(OUTCOMES)}, "since": _WHEN, "until": _WHEN}


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise ValidationFailed.field(name, "must be one of " + ", ".join(allowed))
    return value


def _date(args: Mapping[str, str], name: str) -> dt.datetime | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
        # In UTC: PostgreSQL takes UTC offsets up to 15:59 only, Python up to 23:59.
        return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    except (ValueError, OverflowError):
        raise ValidationFailed.field(name, "must be an ISO date such as 2026-01-31, from year 1 to 9999") from None


@dataclass(frozen=True)
class UserFilter:
    """Which users to list: a text in the email or name, a role, a status."""

    text: str = ""
    role: str | None = None
    status: str | None = None

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> UserFilter:
        """Read and check the filter from a query string (`q`, `role`, `status`)."""
        return cls((args.get("q") or "").strip(), _choice(args, "role", ROLES), _choice(args, "status", STATUSES))


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to list: an action, an actor's email, an outcome, a time range."""

    action: str | None = None
    actor: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> AuditFilter:
        """Read and check the filter from a query string (ISO dates, naive ones in UTC)."""
        return cls(args.get("action"), args.get("actor"), _choice(args, "outcome", OUTCOMES), _date(args, "since"),
                   _date(args, "until"))


def _page(db: Session, stmt: Select, order: object, limit: int, offset: int) -> tuple[list, int]:
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    return db.scalars(stmt.order_by(order).limit(limit).offset(offset)).all(), total


def list_users(db: Session, where: UserFilter, *, limit: int, offset: int) -> dict:
    """A page of users, newest first, with the total that match."""
    stmt = select(User)
    if where.text:
        pattern = "%" + where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(User.email.ilike(pattern), User.name.ilike(pattern)))
    if where.role:
        stmt = stmt.where(User.role == where.role)
    if where.status:
        stmt = stmt.where(User.status == where.status)
    users, total = _page(db, stmt, User.created_at.desc(), limit, offset)
    return {"items": [accounts.serialize(db, u) for u in users], "total": total}


def set_active(db: Session, principal: Principal, user_id: uuid.UUID, *, active: bool, client_ip: str) -> dict:
    """Deactivate an account (ending its sessions) or reactivate it in the status it had earned."""
    user = get_or_404(db, User, user_id, what="user")
    if user.id == principal.user_id:
        raise Conflict("You cannot deactivate your own account.", code="self")
    if active:
        if user.status != "deactivated":
            raise Conflict("This account is not deactivated.", code="not_deactivated")
        approved = db.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.user_id == user.id, Certificate.status == "approved"))
        user.status = "pending" if user.role == "health_professional" and not approved else "active"
    else:
        user.status = "deactivated"
        sessions.revoke_all(db, user.id, reason="deactivated")
    audit.record(db, "user_reactivated" if active else "user_deactivated", actor_id=principal.user_id,
                 client_ip=client_ip, target=f"user:{user.id}")
    return accounts.serialize(db, user)


def list_audit(db: Session, where: AuditFilter, *, limit: int, offset: int) -> dict:
    """A page of audit events, newest first, each with its actor's email."""
    stmt = select(AuditEvent)
    if where.action:
        stmt = stmt.where(AuditEvent.action == where.action)
    if where.actor:
        email = accounts.normalise_email(where.actor)
        stmt = stmt.where(or_(AuditEvent.actor_email == email,
                              AuditEvent.actor_id.in_(select(User.id).where(User.email == email))))
    if where.outcome:
        stmt = stmt.where(AuditEvent.outcome == where.outcome)
    if where.since:
        stmt = stmt.where(AuditEvent.at >= where.since)
    if where.until:
        stmt = stmt.where(AuditEvent.at <= where.until)
    rows, total = _page(db, stmt, AuditEvent.id.desc(), limit, offset)
    actor_ids = {r.actor_id for r in rows if r.actor_id}
    emails = {uid: email for uid, email in db.execute(select(User.id, User.email).where(User.id.in_(actor_ids)))}
    return {"items": [{
        "id": r.id, "at": r.at.isoformat(), "actor_email": r.actor_email or emails.get(r.actor_id),
        "action": r.action, "target": r.target, "client_ip": r.client_ip, "outcome": r.outcome, "details": r.details,
    } for r in rows], "total": total}


def verify_audit(db: Session) -> dict:
    """Whether the audit log's chain is intact and agrees with its anchors outside the database, and where it
    first breaks; an intact chain is anchored again."""
    ok, checked, broken = audit.verify_chain(db)
    anchors = audit_anchors.check(db)
    if ok and anchors.ok:
        audit_anchors.anchor(db)
    first_broken = min((i for i in (broken, anchors.first_broken_id) if i is not None), default=None)
    return {"ok": ok and anchors.ok, "checked": checked, "first_broken_id": first_broken,
            "anchors": anchors.anchors, "anchored_up_to": anchors.anchored_up_to}
