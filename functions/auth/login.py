"""Signing in (password, then the second factor when it is on) and who counts as an administrator.

Nothing but the second-factor step is open to an account with TOTP before that step passes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from functions.auth import accounts, sessions, totp
from functions.common.accounts.tables import User
from functions.common.platform import mail
from functions.common.platform.config import get_settings
from functions.common.platform.errors import Forbidden, NotAuthenticated
from functions.common.security import audit, passwords, throttle, tokens
from functions.common.security.signed_in import require_signed_in
from functions.common.security.tokens import Principal


@dataclass(frozen=True)
class SignIn:
    """A passed sign-in step: the second factor is due (`mfa_ticket`), or a session is open (`tokens`)."""

    api_client: bool
    mfa_ticket: str | None = None
    user: dict | None = None
    tokens: dict | None = None


def require_admin(db: Session, principal: Principal) -> None:
    """Admins must be still signed in, enrolled in TOTP and have used it for this session."""
    if principal.role != "admin":
        raise Forbidden("Administrators only.")
    require_signed_in(principal)
    if not db.get(User, principal.user_id).totp_enabled:
        raise Forbidden("Set up two-factor authentication before using admin pages.", code="mfa_enrolment_required")
    if not principal.used_mfa:
        raise Forbidden("Sign in again with your authentication code to use admin pages.", code="mfa_required")


def password_login(db: Session, *, email: str, password: str, api_client: bool, client_ip: str,
                   user_agent: str) -> SignIn:
    """The first factor by password; failures count towards the lock-out and are audited."""
    email = accounts.normalise_email(email)
    throttle.check(db, email=email, ip=client_ip)
    user = accounts.by_email(db, email)
    if not passwords.verify_password(user.password_hash if user else None, password):
        throttle.record_failure(db, email=email, ip=client_ip)
        audit.record(db, "login", outcome="failure", actor_id=user.id if user else None, actor_email=email,
                     client_ip=client_ip, details={"reason": "bad_password"})
        db.commit()
        raise NotAuthenticated("The email or password is not right.", code="invalid_credentials")
    if user.status == "deactivated":
        raise Forbidden("This account is deactivated; contact an administrator.", code="account_deactivated")
    if not user.email_verified:
        raw = accounts.issue_email_token(db, user, "verify")
        db.commit()
        mail.send(user.email, "Verify your MedCloudCare email",
                  f"Confirm your email address to sign in:\n{accounts.link('/verify-email', raw)}")
        raise Forbidden("Confirm your email address first: we have sent you a new link.", code="email_not_verified")
    passwords.forgive_failures(db, user)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return first_factor_passed(db, user, amr=["pwd"], api_client=api_client, client_ip=client_ip,
                               user_agent=user_agent)


def first_factor_passed(db: Session, user: User, *, amr: list[str], api_client: bool, client_ip: str,
                        user_agent: str) -> SignIn:
    """Open a session, or, when TOTP is on, hand out only a ticket for the second-factor step."""
    if user.totp_enabled:
        ticket = tokens.issue({"sub": str(user.id), "amr": amr, "api": api_client},
                              ttl=get_settings().mfa_token_ttl, typ="mfa")
        return SignIn(api_client, mfa_ticket=ticket)
    return _open_session(db, user, amr=amr, api_client=api_client, client_ip=client_ip, user_agent=user_agent)


def second_factor(db: Session, ticket: str | None, *, code: str | None, recovery_code: str | None, client_ip: str,
                  user_agent: str) -> SignIn:
    """Finish a sign-in with a TOTP or recovery code; failures count towards the lock-out."""
    if not ticket:
        raise NotAuthenticated("Sign in with your password first.", code="mfa_expired")
    try:
        claims = tokens.verifier().verify(ticket, typ="mfa")
    except tokens.TokenInvalid as e:
        raise NotAuthenticated("The sign-in took too long; start again.", code="mfa_expired") from e
    user = db.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.totp_enabled or user.status == "deactivated":
        raise NotAuthenticated("Sign in with your password first.", code="mfa_expired")
    totp.require_second_factor(db, user, code=code, recovery_code=recovery_code, client_ip=client_ip)
    return _open_session(db, user, amr=[*claims.get("amr", []), "otp"], api_client=bool(claims.get("api")),
                         client_ip=client_ip, user_agent=user_agent)


def _open_session(db: Session, user: User, *, amr: list[str], api_client: bool, client_ip: str,
                  user_agent: str) -> SignIn:
    pair = sessions.start(db, user, amr=amr, client_ip=client_ip, user_agent=user_agent)
    return SignIn(api_client, user=accounts.serialize(db, user), tokens=pair)
