"""Accounts: sign-up, email verification, password reset and change, email change, profile."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from functions.auth import events
from functions.auth.sessions import revoke_all
from functions.common.accounts.tables import Certificate, EmailToken, User
from functions.common.platform import mail
from functions.common.platform.config import get_settings
from functions.common.platform.db import utcnow
from functions.common.platform.errors import BadRequest, Conflict
from functions.common.security import audit, passwords
from functions.common.security.crypto import token_hash

TOKEN_TTL = {"verify": dt.timedelta(days=2), "reset": dt.timedelta(hours=1), "email_change": dt.timedelta(hours=24)}
SELF_SERVICE_ROLES = ("researcher", "health_professional")


def normalise_email(email: str) -> str:
    """The form every address is stored and looked up in."""
    return email.strip().lower()


def initial_status(role: str) -> str:
    """Health professionals wait for an admin to approve their certificate."""
    return "pending" if role == "health_professional" else "active"


def serialize(db: Session, user: User) -> dict:
    """A user as the API shows it, with their newest certificate's state."""
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
    """The account with this address, if any."""
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def issue_email_token(db: Session, user: User, purpose: str, *, new_email: str | None = None) -> str:
    """A single-use token for a mailed link; only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    db.add(EmailToken(user_id=user.id, purpose=purpose, token_hash=token_hash(raw), new_email=new_email,
                      expires_at=utcnow() + TOKEN_TTL[purpose]))
    return raw


def consume_email_token(db: Session, raw: str, purpose: str) -> EmailToken:
    """Spend a mailed link's token, or refuse one that is unknown, used or expired."""
    row = db.scalar(select(EmailToken).where(EmailToken.token_hash == token_hash(raw), EmailToken.purpose == purpose)
                    .with_for_update())
    if row is None or row.used_at is not None or row.expires_at < utcnow():
        raise BadRequest("This link is invalid, already used or expired; ask for a new one.", code="invalid_token")
    row.used_at = utcnow()
    return row


def link(path: str, raw: str) -> str:
    """The portal URL a mailed token is sent to."""
    return f"{get_settings().public_url}{path}?token={raw}"


def create_user(db: Session, *, email: str, name: str, role: str, password: str | None,
                email_verified: bool = False, status: str | None = None) -> User:
    """Add an account (by sign-up, social sign-in or a loader); the caller decides what it has proven."""
    user = User(id=uuid.uuid4(), email=normalise_email(email), name=name.strip(), role=role,
                status=status or initial_status(role), email_verified=email_verified,
                password_hash=passwords.hash_password(password) if password else None,
                password_changed_at=utcnow() if password else None, created_at=utcnow())
    db.add(user)
    db.flush()
    return user


def signup(db: Session, *, email: str, name: str, password: str, role: str, client_ip: str) -> None:
    """Create an unverified account and mail a link; an existing address gets a notice instead."""
    email = normalise_email(email)
    passwords.check_strength(password, user_inputs=[email, name])
    if by_email(db, email) is not None:
        passwords.hash_password(password)  # same work as the new-account path
        mail.send(email, "Sign-up attempt on MedCloudCare",
                  "Someone tried to create an account with this address, which already has one.\n"
                  f"If it was you, sign in at {get_settings().public_url}/signin or reset your password.")
        audit.record(db, "signup", outcome="failure", actor_email=email, client_ip=client_ip,
                     details={"reason": "email_taken"})
        return
    user = create_user(db, email=email, name=name, role=role, password=password)
    raw = issue_email_token(db, user, "verify")
    events.record(db, "signup", user, client_ip=client_ip, details={"role": user.role})
    db.commit()
    mail.send(email, "Verify your MedCloudCare email",
              f"Welcome to MedCloudCare, {user.name}.\n\nConfirm your email address:\n{link('/verify-email', raw)}\n\n"
              "The link works once and expires in 48 hours.")


def verify_email(db: Session, token: str, *, client_ip: str) -> None:
    """Mark the address of a mailed verification link as confirmed."""
    user = db.get(User, consume_email_token(db, token, "verify").user_id)
    user.email_verified = True
    events.record(db, "email_verified", user, client_ip=client_ip)


def forgot_password(db: Session, email: str, *, client_ip: str) -> None:
    """Mail a reset link to an account that can use one; the caller learns nothing either way."""
    user = by_email(db, email)
    if user is not None and user.status != "deactivated":
        raw = issue_email_token(db, user, "reset")
        events.record(db, "password_reset_requested", user, client_ip=client_ip)
        db.commit()
        mail.send(user.email, "Reset your MedCloudCare password",
                  f"Set a new password here (valid for one hour, once):\n{link('/reset-password', raw)}\n\n"
                  "If you did not ask for this, ignore this message.")


def _set_password(user: User, password: str, *, field: str = "password") -> None:
    passwords.check_strength(password, field=field, user_inputs=[user.email, user.name])
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()


def reset_password(db: Session, token: str, password: str, *, client_ip: str) -> None:
    """Set a new password from a mailed link and sign out every session."""
    token_row = db.scalar(select(EmailToken).where(EmailToken.token_hash == token_hash(token)))
    user = db.get(User, token_row.user_id) if token_row else None
    if user is not None:  # a weak password is refused before the link is spent
        passwords.check_strength(password, user_inputs=[user.email, user.name])
    user = db.get(User, consume_email_token(db, token, "reset").user_id)
    _set_password(user, password)
    user.email_verified = True  # the link proved control of the mailbox
    revoke_all(db, user.id, reason="password_reset")
    events.record(db, "password_reset", user, client_ip=client_ip)


def change_password(db: Session, user: User, *, current_password: str, new_password: str,
                    session_id: uuid.UUID | None, client_ip: str) -> None:
    """Replace the password (proven by the current one) and sign out every other session."""
    passwords.require_password(db, user, current_password, client_ip=client_ip)
    _set_password(user, new_password, field="new_password")
    revoke_all(db, user.id, reason="password_changed", keep=session_id)
    events.record(db, "password_changed", user, client_ip=client_ip)
    mail.send(user.email, "Your MedCloudCare password was changed",
              "Your password was just changed and your other sessions were signed out.\n"
              "If this was not you, reset your password now.")


def request_email_change(db: Session, user: User, *, password: str, new_email: str, client_ip: str) -> None:
    """Mail a confirmation link to a free new address and a notice to the current one."""
    passwords.require_password(db, user, password, client_ip=client_ip)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise Conflict("That is already your email address.", code="same_email")
    if by_email(db, new_email) is None:
        raw = issue_email_token(db, user, "email_change", new_email=new_email)
        db.commit()
        mail.send(new_email, "Confirm your new MedCloudCare email",
                  f"Confirm this address for your account:\n{link('/email/confirm', raw)}")
    events.record(db, "email_change_requested", user, client_ip=client_ip)
    mail.send(user.email, "Email change requested", "Someone asked to change your account's email address. "
              "If it was not you, change your password now.")


def confirm_email_change(db: Session, token: str, *, client_ip: str) -> None:
    """Move the account to the address a mailed link confirmed, unless another account took it meanwhile."""
    row = consume_email_token(db, token, "email_change")
    user = db.get(User, row.user_id)
    if db.scalar(select(func.count()).select_from(User).where(User.email == row.new_email)):
        raise Conflict("That address now belongs to another account.", code="email_taken")
    old = user.email
    user.email, user.email_verified = row.new_email, True
    events.record(db, "email_changed", user, client_ip=client_ip, details={"previous": old})


def rename(db: Session, user: User, *, name: str) -> dict:
    """Change the profile's name."""
    user.name = name.strip()
    return serialize(db, user)
