"""Routes of the `auth` function: request in, call a service, response out."""

from __future__ import annotations

import uuid

import flask

from functions.auth import accounts, admin, certificates, login, oauth, sessions, totp
from functions.common import audit, passwords, tokens
from functions.common.errors import NotAuthenticated, ValidationFailed
from functions.common.http import EMAIL, PASSWORD, Access, Api, RequestContext, json_schema, require_csrf_token

api = Api("auth", prefix="/api/auth", title="MedCloudCare auth", admin_check=login.require_admin)

NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
ROLE = {"type": "string", "enum": list(accounts.SELF_SERVICE_ROLES)}
TOKEN = {"type": "string", "minLength": 10, "maxLength": 200}
CODE = {"type": "string", "minLength": 6, "maxLength": 12}
CLIENT = {"type": "string", "enum": ["api", "browser"]}


# ---------------------------------------------------------------- sign-up, sign-in
@api.route("/signup", ("POST",), access=Access.PUBLIC, summary="Create an account; a link is mailed",
           body=json_schema({"email": EMAIL, "name": NAME, "password": PASSWORD, "role": ROLE}))
def signup(ctx: RequestContext):
    return accounts.signup(ctx)


@api.route("/verify-email", ("POST",), access=Access.PUBLIC, summary="Confirm an email address",
           body=json_schema({"token": TOKEN}))
def verify_email(ctx: RequestContext):
    return accounts.verify_email(ctx)


@api.route("/login", ("POST",), access=Access.PUBLIC, summary="Sign in with email and password",
           body=json_schema({"email": EMAIL, "password": PASSWORD, "client": CLIENT}, ["email", "password"]))
def password_login(ctx: RequestContext):
    return login.password_login(ctx)


@api.route("/login/mfa", ("POST",), access=Access.PUBLIC, summary="Second factor: TOTP or recovery code",
           body=json_schema({"code": CODE, "recovery_code": {"type": "string", "maxLength": 32},
                             "mfa_token": {"type": "string", "maxLength": 4096}}, []))
def login_mfa(ctx: RequestContext):
    return login.second_factor(ctx)


@api.route("/token/refresh", ("POST",), access=Access.PUBLIC, summary="Rotate the refresh token",
           body=json_schema({"refresh_token": TOKEN}, []))
def refresh(ctx: RequestContext):
    raw = ctx.body.get("refresh_token")
    api_client = raw is not None
    if not api_client:
        raw = ctx.request.cookies.get(sessions.REFRESH_COOKIE)
        if raw:  # a cookie-based refresh is an unsafe browser request: it needs the CSRF header too
            require_csrf_token(ctx.request)
    if not raw:
        raise NotAuthenticated("Sign in again.", code="invalid_token")
    return {"status": "ok", **sessions.refresh(ctx, raw, api_client=api_client)}


@api.route("/password/forgot", ("POST",), access=Access.PUBLIC, summary="Mail a password-reset link",
           body=json_schema({"email": EMAIL}))
def forgot(ctx: RequestContext):
    return accounts.forgot_password(ctx)


@api.route("/password/reset", ("POST",), access=Access.PUBLIC, summary="Set a new password from a mailed link",
           body=json_schema({"token": TOKEN, "password": PASSWORD}))
def reset(ctx: RequestContext):
    return accounts.reset_password(ctx)


@api.route("/email/confirm", ("POST",), access=Access.PUBLIC, summary="Confirm a new email address",
           body=json_schema({"token": TOKEN}))
def email_confirm(ctx: RequestContext):
    return accounts.confirm_email_change(ctx)


@api.route("/.well-known/jwks.json", access=Access.PUBLIC, summary="Public keys that verify access tokens")
def jwks(ctx: RequestContext):
    resp = flask.jsonify(tokens.signing_keys(ctx.settings.keys_path).jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# ---------------------------------------------------------------- social sign-in
@api.route("/oauth/providers", access=Access.PUBLIC, summary="Configured social sign-in providers")
def oauth_providers(ctx: RequestContext):
    return {"items": [{"name": p.name, "display_name": p.display_name} for p in oauth.providers(ctx).values()]}


@api.route("/oauth/<name>/start", access=Access.PUBLIC, summary="Go to the provider's sign-in page")
def oauth_start(ctx: RequestContext, name: str):
    return flask.redirect(oauth.start(ctx, name), code=302)


@api.route("/oauth/<name>/callback", access=Access.PUBLIC, summary="The provider sends the browser back here")
def oauth_callback(ctx: RequestContext, name: str):
    return flask.redirect(oauth.callback(ctx, name), code=302)


@api.route("/oauth/pending", access=Access.PUBLIC, summary="The social sign-in waiting for a decision")
def oauth_pending(ctx: RequestContext):
    return oauth.pending(ctx)


@api.route("/oauth/complete-signup", ("POST",), access=Access.PUBLIC, summary="Create the account of a social sign-in",
           body=json_schema({"name": NAME, "role": ROLE}))
def oauth_complete(ctx: RequestContext):
    return oauth.complete_signup(ctx)


@api.route("/oauth/confirm-link", ("POST",), access=Access.PUBLIC,
           summary="Link a social identity to the existing account with its password",
           body=json_schema({"password": PASSWORD}))
def oauth_link(ctx: RequestContext):
    return oauth.confirm_link(ctx)


# ---------------------------------------------------------------- the signed-in user
@api.route("/me", summary="The signed-in user")
def me(ctx: RequestContext):
    return accounts.serialize(ctx.db, login.current_user(ctx))


@api.route("/me", ("PATCH",), summary="Change profile fields", body=json_schema({"name": NAME}))
def update_me(ctx: RequestContext):
    user = login.current_user(ctx)
    user.name = ctx.body["name"].strip()
    return accounts.serialize(ctx.db, user)


@api.route("/logout", ("POST",), summary="End this session")
def logout(ctx: RequestContext):
    user = login.current_user(ctx)
    session = ctx.db.get(sessions.AuthSession, ctx.principal.session_id)
    if session is not None:
        sessions.revoke(ctx.db, session, reason="logout")
    audit.record(ctx.db, "logout", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    sessions.clear_cookies(ctx)
    return {"status": "signed_out"}


@api.route("/logout-all", ("POST",), summary="End every session of this user")
def logout_all(ctx: RequestContext):
    user = login.current_user(ctx)
    sessions.revoke_all(ctx.db, user.id, reason="logout_all")
    audit.record(ctx.db, "logout_all", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    sessions.clear_cookies(ctx)
    return {"status": "signed_out"}


@api.route("/sessions", summary="Active sessions of this user")
def list_sessions(ctx: RequestContext):
    user = login.current_user(ctx)
    return {"items": sessions.active_sessions(ctx.db, user.id, ctx.principal.session_id)}


@api.route("/sessions/<session_id>", ("DELETE",), summary="Revoke one session")
def revoke_session(ctx: RequestContext, session_id: str):
    user = login.current_user(ctx)
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        raise ValidationFailed.field("session_id", "must be a UUID") from None
    sessions.revoke_one(ctx.db, user.id, sid)
    audit.record(ctx.db, "session_revoked", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 target=f"session:{sid}")
    return None


@api.route("/password/change", ("POST",), summary="Change password (signs out other sessions)",
           body=json_schema({"current_password": PASSWORD, "new_password": PASSWORD}))
def change_password(ctx: RequestContext):
    return accounts.change_password(ctx, login.current_user(ctx))


@api.route("/email/change", ("POST",), summary="Change email: a link goes to the new address",
           body=json_schema({"password": PASSWORD, "new_email": EMAIL}))
def change_email(ctx: RequestContext):
    return accounts.request_email_change(ctx, login.current_user(ctx))


# ---------------------------------------------------------------- two-factor
@api.route("/2fa/totp/setup", ("POST",), summary="Start TOTP enrolment", body=json_schema({"password": PASSWORD}))
def totp_setup(ctx: RequestContext):
    user = login.current_user(ctx)
    if user.password_hash:
        passwords.require_password(ctx, user, ctx.body["password"])
    return totp.setup(ctx, user)


@api.route("/2fa/totp/confirm", ("POST",), summary="Finish TOTP enrolment with a code",
           body=json_schema({"code": CODE}))
def totp_confirm(ctx: RequestContext):
    return totp.confirm(ctx, login.current_user(ctx))


@api.route("/2fa/totp/disable", ("POST",), summary="Turn TOTP off (password and code)",
           body=json_schema({"password": PASSWORD, "code": CODE}))
def totp_disable(ctx: RequestContext):
    user = login.current_user(ctx)
    passwords.require_password(ctx, user, ctx.body["password"])
    return totp.disable(ctx, user)


@api.route("/2fa/recovery-codes", ("POST",), summary="Replace the recovery codes (password and code)",
           body=json_schema({"password": PASSWORD, "code": CODE}))
def recovery_codes(ctx: RequestContext):
    user = login.current_user(ctx)
    passwords.require_password(ctx, user, ctx.body["password"])
    totp.verify_code(ctx, user, ctx.body["code"])
    audit.record(ctx.db, "recovery_codes_replaced", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    return {"recovery_codes": totp.new_recovery_codes(ctx.db, user)}


# ---------------------------------------------------------------- certificates
@api.route("/certificate", ("POST",), summary="Upload a medical certificate (multipart field 'file')",
           max_body=10 * 1024 * 1024)
def upload_certificate(ctx: RequestContext):
    return certificates.upload(ctx, login.current_user(ctx))


# ---------------------------------------------------------------- admin
@api.route("/admin/users", access=Access.ADMIN, summary="Search users")
def admin_users(ctx: RequestContext):
    return admin.list_users(ctx)


@api.route("/admin/users/<user_id>/deactivate", ("POST",), access=Access.ADMIN, summary="Deactivate an account")
def admin_deactivate(ctx: RequestContext, user_id: str):
    return admin.set_active(ctx, user_id, active=False)


@api.route("/admin/users/<user_id>/reactivate", ("POST",), access=Access.ADMIN, summary="Reactivate an account")
def admin_reactivate(ctx: RequestContext, user_id: str):
    return admin.set_active(ctx, user_id, active=True)


@api.route("/admin/certificates", access=Access.ADMIN, summary="Certificates by status")
def admin_certificates(ctx: RequestContext):
    return certificates.list_certificates(ctx)


@api.route("/admin/certificates/<cert_id>/file", access=Access.ADMIN, summary="Download a certificate")
def admin_certificate_file(ctx: RequestContext, cert_id: str):
    data, content_type = certificates.download(ctx, cert_id)
    resp = flask.Response(data, mimetype=content_type)
    resp.headers["Content-Disposition"] = "inline"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; object-src 'self'; sandbox"
    return resp


@api.route("/admin/certificates/<cert_id>/approve", ("POST",), access=Access.ADMIN, summary="Approve a certificate")
def admin_approve(ctx: RequestContext, cert_id: str):
    return certificates.decide(ctx, cert_id, approve=True)


@api.route("/admin/certificates/<cert_id>/reject", ("POST",), access=Access.ADMIN, summary="Reject with a reason",
           body=json_schema({"reason": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}}))
def admin_reject(ctx: RequestContext, cert_id: str):
    return certificates.decide(ctx, cert_id, approve=False)


@api.route("/admin/audit", access=Access.ADMIN, summary="Read the audit log")
def admin_audit(ctx: RequestContext):
    return admin.list_audit(ctx)


@api.route("/admin/audit/verify", access=Access.ADMIN, summary="Check the audit log's hash chain")
def admin_audit_verify(ctx: RequestContext):
    return admin.verify_audit(ctx)


@api.route("/noop", access=Access.SIGNED_IN, summary="Does nothing; measures the cost of authentication")
def noop(ctx: RequestContext):
    return {"ok": True}


@api.route("/noop-public", access=Access.PUBLIC, summary="Does nothing, without authentication (benchmark baseline)")
def noop_public(ctx: RequestContext):
    return {"ok": True}
