"""Accounts: sign-up, email verification, password reset and change, email change, profile."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from functions.auth.sessions import revoke_all
from functions.common import audit, mail, passwords
from functions.common.config import get_settings
from functions.common.crypto import token_hash
from functions.common.errors import BadRequest, Conflict
from functions.common.http import RequestContext
from functions.common.models import Certificate, EmailToken, User, utcnow

TOKEN_TTL = {"verify": dt.timedelta(days=2), "reset": dt.timedelta(hours=1), "email_change": dt.timedelta(hours=24)}
SELF_SERVICE_ROLES = ("researcher", "health_professional")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def initial_status(role: str) -> str:
    """Health professionals wait for an admin to approve their certificate."""
    return "pending" if role == "health_professional" else "active"


def serialize(db: Session, user: User) -> dict:
    cert = db.scalar(
        select(Certificate).where(Certificate.user_id == user.id).order_by(Certificate.uploaded_at.desc()).limit(1)
    )
    return {
        "id": str(user.id), "email": user.email, "name": user.name, "role": user.role, "status": user.status,
        "email_verified": user.email_verified, "totp_enabled": user.totp_enabled,
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "certificate": None if cert is None else {
            "id": str(cert.id), "status": cert.status, "reason": cert.reason,
            "uploaded_at": cert.uploaded_at.isoformat(),
        },
    }


def by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def issue_email_token(db: Session, user: User, purpose: str, *, new_email: str | None = None) -> str:
    raw = secrets.token_urlsafe(32)
    db.add(EmailToken(user_id=user.id, purpose=purpose, token_hash=token_hash(raw), new_email=new_email,
                      expires_at=utcnow() + TOKEN_TTL[purpose]))
    return raw


def consume_email_token(db: Session, raw: str, purpose: str) -> EmailToken:
    row = db.scalar(select(EmailToken).where(EmailToken.token_hash == token_hash(raw), EmailToken.purpose == purpose)
                    .with_for_update())
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise BadRequest("This link is invalid, already used or expired; ask for a new one.", code="invalid_token")
    row.used_at = utcnow()
    return row


def link(path: str, raw: str) -> str:
    return f"{get_settings().public_url}{path}?token={raw}"


def create_user(db: Session, *, email: str, name: str, role: str, password: str | None,
                email_verified: bool = False, status: str | None = None) -> User:
    user = User(id=uuid.uuid4(), email=normalise_email(email), name=name.strip(), role=role,
                status=status or initial_status(role), email_verified=email_verified,
                password_hash=passwords.hash_password(password) if password else None,
                password_changed_at=utcnow() if password else None, created_at=utcnow())
    db.add(user)
    db.flush()
    return user


def signup(ctx: RequestContext) -> dict:
    """Create an unverified account and mail a link; an existing address gets a notice instead."""
    body = ctx.body
    email = normalise_email(body["email"])
    passwords.check_strength(body["password"], user_inputs=[email, body["name"]])
    existing = by_email(ctx.db, email)
    if existing is not None:
        passwords.hash_password(body["password"])  # same work as the new-account path
        mail.send(email, "Sign-up attempt on MedCloudCare",
                  "Someone tried to create an account with this address, which already has one.\n"
                  f"If it was you, sign in at {ctx.settings.public_url}/signin or reset your password.")
        audit.record(ctx.db, "signup", outcome="failure", actor_email=email, client_ip=ctx.client_ip,
                     details={"reason": "email_taken"})
        return {"status": "verification_sent"}, 202
    user = create_user(ctx.db, email=email, name=body["name"], role=body["role"], password=body["password"])
    raw = issue_email_token(ctx.db, user, "verify")
    audit.record(ctx.db, "signup", actor_id=user.id, actor_email=email, client_ip=ctx.client_ip,
                 details={"role": user.role})
    ctx.db.commit()
    mail.send(email, "Verify your MedCloudCare email",
              f"Welcome to MedCloudCare, {user.name}.\n\nConfirm your email address:\n{link('/verify-email', raw)}\n\n"
              "The link works once and expires in 48 hours.")
    return {"status": "verification_sent"}, 202


def verify_email(ctx: RequestContext) -> dict:
    row = consume_email_token(ctx.db, ctx.body["token"], "verify")
    user = ctx.db.get(User, row.user_id)
    user.email_verified = True
    audit.record(ctx.db, "email_verified", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    return {"status": "verified"}


def forgot_password(ctx: RequestContext) -> tuple[dict, int]:
    user = by_email(ctx.db, ctx.body["email"])
    if user is not None and user.status != "deactivated":
        raw = issue_email_token(ctx.db, user, "reset")
        audit.record(ctx.db, "password_reset_requested", actor_id=user.id, actor_email=user.email,
                     client_ip=ctx.client_ip)
        ctx.db.commit()
        mail.send(user.email, "Reset your MedCloudCare password",
                  f"Set a new password here (valid for one hour, once):\n{link('/reset-password', raw)}\n\n"
                  "If you did not ask for this, ignore this message.")
    return {"status": "reset_sent"}, 202


def _set_password(db: Session, user: User, password: str, *, field: str = "password") -> None:
    passwords.check_strength(password, field=field, user_inputs=[user.email, user.name])
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()


def reset_password(ctx: RequestContext) -> dict:
    token_row = ctx.db.scalar(select(EmailToken).where(EmailToken.token_hash == token_hash(ctx.body["token"])))
    user = ctx.db.get(User, token_row.user_id) if token_row else None
    if user is not None:
        passwords.check_strength(ctx.body["password"], user_inputs=[user.email, user.name])
    row = consume_email_token(ctx.db, ctx.body["token"], "reset")
    user = ctx.db.get(User, row.user_id)
    _set_password(ctx.db, user, ctx.body["password"])
    user.email_verified = True  # the link proved control of the mailbox
    revoke_all(ctx.db, user.id, reason="password_reset")
    audit.record(ctx.db, "password_reset", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    return {"status": "password_changed"}




def change_password(ctx: RequestContext, user: User) -> dict:
    passwords.require_password(ctx, user, ctx.body["current_password"])
    _set_password(ctx.db, user, ctx.body["new_password"], field="new_password")
    revoke_all(ctx.db, user.id, reason="password_changed", keep=ctx.principal.session_id)
    audit.record(ctx.db, "password_changed", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    mail.send(user.email, "Your MedCloudCare password was changed",
              "Your password was just changed and your other sessions were signed out.\n"
              "If this was not you, reset your password now.")
    return {"status": "password_changed"}


def request_email_change(ctx: RequestContext, user: User) -> tuple[dict, int]:
    passwords.require_password(ctx, user, ctx.body["password"])
    new_email = normalise_email(ctx.body["new_email"])
    if new_email == user.email:
        raise Conflict("That is already your email address.", code="same_email")
    if by_email(ctx.db, new_email) is None:
        raw = issue_email_token(ctx.db, user, "email_change", new_email=new_email)
        ctx.db.commit()
        mail.send(new_email, "Confirm your new MedCloudCare email",
                  f"Confirm this address for your account:\n{link('/email/confirm', raw)}")
    audit.record(ctx.db, "email_change_requested", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    mail.send(user.email, "Email change requested", "Someone asked to change your account's email address. "
              "If it was not you, change your password now.")
    return {"status": "verification_sent"}, 202


def confirm_email_change(ctx: RequestContext) -> dict:
    row = consume_email_token(ctx.db, ctx.body["token"], "email_change")
    user = ctx.db.get(User, row.user_id)
    if ctx.db.scalar(select(func.count()).select_from(User).where(User.email == row.new_email)):
        raise Conflict("That address now belongs to another account.", code="email_taken")
    old = user.email
    user.email, user.email_verified = row.new_email, True
    audit.record(ctx.db, "email_changed", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 details={"previous": old})
    return {"status": "email_changed"}
