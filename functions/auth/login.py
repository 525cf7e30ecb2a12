"""Password sign-in and the second-factor step; nothing but that step is open before it passes."""

from __future__ import annotations

import uuid

from functions.auth import accounts, sessions, throttle, totp
from functions.common import audit, mail, passwords, tokens
from functions.common.errors import ApiError, Forbidden, NotAuthenticated
from functions.common.http import RequestContext
from functions.common.models import User

MFA_COOKIE = "mcc_mfa"


def current_user(ctx: RequestContext) -> User:
    """The caller's account row; a deleted or deactivated account is treated as signed out."""
    principal = ctx.require_principal()
    user = ctx.db.get(User, principal.user_id)
    if user is None or user.status == "deactivated":
        raise NotAuthenticated("Your account is not active; sign in again.", code="account_inactive")
    return user


def require_admin(ctx: RequestContext) -> None:
    """Admins must be enrolled in TOTP and have used it for this session."""
    principal = ctx.require_principal()
    if principal.role != "admin":
        raise Forbidden("Administrators only.")
    user = current_user(ctx)
    if not user.totp_enabled:
        raise Forbidden("Set up two-factor authentication before using admin pages.", code="mfa_enrolment_required")
    if not principal.used_mfa:
        raise Forbidden("Sign in again with your authentication code to use admin pages.", code="mfa_required")


def password_login(ctx: RequestContext) -> dict:
    body = ctx.body
    email = accounts.normalise_email(body["email"])
    throttle.check(ctx.db, email=email, ip=ctx.client_ip)
    user = accounts.by_email(ctx.db, email)
    if not passwords.verify_password(user.password_hash if user else None, body["password"]):
        throttle.record_failure(ctx.db, email=email, ip=ctx.client_ip)
        audit.record(ctx.db, "login", outcome="failure", actor_id=user.id if user else None, actor_email=email,
                     client_ip=ctx.client_ip, details={"reason": "bad_password"})
        ctx.db.commit()
        raise NotAuthenticated("The email or password is not right.", code="invalid_credentials")
    if user.status == "deactivated":
        raise Forbidden("This account is deactivated; contact an administrator.", code="account_deactivated")
    if not user.email_verified:
        raw = accounts.issue_email_token(ctx.db, user, "verify")
        ctx.db.commit()
        mail.send(user.email, "Verify your MedCloudCare email",
                  f"Confirm your email address to sign in:\n{accounts.link('/verify-email', raw)}")
        raise Forbidden("Confirm your email address first: we have sent you a new link.", code="email_not_verified")
    throttle.clear_account(ctx.db, email=email)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(body["password"])
    return first_factor_passed(ctx, user, amr=["pwd"], api_client=body.get("client") == "api")


def first_factor_passed(ctx: RequestContext, user: User, *, amr: list[str], api_client: bool) -> dict:
    """Open a session, or, when TOTP is on, hand out only a ticket for the second-factor step."""
    if user.totp_enabled:
        ticket = tokens.issue({"sub": str(user.id), "amr": amr, "api": api_client},
                              ttl=ctx.settings.mfa_token_ttl, typ="mfa")
        if api_client:
            return {"status": "mfa_required", "mfa_token": ticket}
        ctx.set_cookie(MFA_COOKIE, ticket, max_age=ctx.settings.mfa_token_ttl, path="/api/auth")
        return {"status": "mfa_required"}
    pair = sessions.start(ctx, user, amr=amr, api_client=api_client)
    return {"status": "ok", "user": accounts.serialize(ctx.db, user), **pair}


def second_factor(ctx: RequestContext) -> dict:
    body = ctx.body
    ticket = body.get("mfa_token") or ctx.request.cookies.get(MFA_COOKIE)
    if not ticket:
        raise NotAuthenticated("Sign in with your password first.", code="mfa_expired")
    try:
        claims = tokens.verifier().verify(ticket, typ="mfa")
    except tokens.TokenInvalid as e:
        raise NotAuthenticated("The sign-in took too long; start again.", code="mfa_expired") from e
    user = ctx.db.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.totp_enabled or user.status == "deactivated":
        raise NotAuthenticated("Sign in with your password first.", code="mfa_expired")
    throttle.check(ctx.db, email=user.email, ip=ctx.client_ip)
    try:
        if body.get("code"):
            totp.verify_code(ctx, user, body["code"])
        elif body.get("recovery_code"):
            totp.use_recovery_code(ctx, user, body["recovery_code"])
        else:
            raise NotAuthenticated("Enter the code from your authenticator app or a recovery code.",
                                   code="invalid_code")
    except ApiError:
        ctx.db.rollback()
        throttle.record_failure(ctx.db, email=user.email, ip=ctx.client_ip)
        ctx.db.commit()
        raise
    throttle.clear_account(ctx.db, email=user.email)
    ctx.delete_cookie(MFA_COOKIE, path="/api/auth")
    pair = sessions.start(ctx, user, amr=[*claims.get("amr", []), "otp"], api_client=bool(claims.get("api")))
    return {"status": "ok", "user": accounts.serialize(ctx.db, user), **pair}
