"""Routes of the `auth` function: request in, call a service, response out. The contract is docs/api/auth.md.

Routes for a signed-in user require an active account (`ACTIVE_ACCOUNT`), admin routes an
administrator with a second factor (`ADMIN`); cookies are handled in `cookies.py`, never in services."""

from __future__ import annotations

import uuid

import flask

from functions.auth import accounts, admin, certificates, cookies, login, oauth, sessions, totp
from functions.auth.requirements import ACTIVE_ACCOUNT, ADMIN, signed_in_user
from functions.common.http import (
    ACCEPTED,
    CREATED,
    EMAIL,
    NO_CONTENT,
    PASSWORD,
    REDIRECT,
    Access,
    Answer,
    Api,
    RequestContext,
    json_schema,
    one_of,
    paging,
    paging_query,
)
from functions.common.security import tokens

api = Api("auth", prefix="/api/auth", title="MedCloudCare auth")

NAME = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
ROLE = {"type": "string", "enum": list(accounts.SELF_SERVICE_ROLES)}
TOKEN = {"type": "string", "minLength": 10, "maxLength": 200}
CODE = {"type": "string", "minLength": 6, "maxLength": 12}
CLIENT = {"type": "string", "enum": ["api", "browser"]}
USER = "/admin/users/<uuid:user_id>"
CERTIFICATE = "/admin/certificates/<uuid:cert_id>"
CERTIFICATE_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; sandbox"


TEXT = {"type": "string"}
MAX_PAGE = 100
PAGE = paging_query(max_limit=MAX_PAGE)


def _page(ctx: RequestContext) -> dict[str, int]:
    limit, offset = paging(ctx.args, default_limit=50, max_limit=MAX_PAGE)
    return {"limit": limit, "offset": offset}


# ---------------------------------------------------------------- sign-up, sign-in
@api.route("/signup", ("POST",), access=Access.PUBLIC, summary="Create an account; a link is mailed",
           body=json_schema({"email": EMAIL, "name": NAME, "password": PASSWORD, "role": ROLE}), answers=ACCEPTED)
def signup(ctx: RequestContext):
    accounts.signup(ctx.db, **ctx.body, client_ip=ctx.client_ip)
    return {"status": "verification_sent"}


@api.route("/verify-email", ("POST",), access=Access.PUBLIC, summary="Confirm an email address",
           body=json_schema({"token": TOKEN}))
def verify_email(ctx: RequestContext):
    accounts.verify_email(ctx.db, ctx.body["token"], client_ip=ctx.client_ip)
    return {"status": "verified"}


@api.route("/login", ("POST",), access=Access.PUBLIC, summary="Sign in with email and password",
           body=json_schema({"email": EMAIL, "password": PASSWORD, "client": CLIENT}, ["email", "password"]))
def password_login(ctx: RequestContext):
    signed = login.password_login(ctx.db, email=ctx.body["email"], password=ctx.body["password"],
                                  api_client=ctx.body.get("client") == "api", client_ip=ctx.client_ip,
                                  user_agent=ctx.user_agent)
    return cookies.sign_in(ctx, signed)


@api.route("/login/mfa", ("POST",), access=Access.PUBLIC, summary="Second factor: TOTP or recovery code",
           body=json_schema({"code": CODE, "recovery_code": {"type": "string", "maxLength": 32},
                             "mfa_token": {"type": "string", "maxLength": 4096}}, []))
def login_mfa(ctx: RequestContext):
    signed = login.second_factor(ctx.db, cookies.mfa_ticket(ctx), code=ctx.body.get("code"),
                                 recovery_code=ctx.body.get("recovery_code"), client_ip=ctx.client_ip,
                                 user_agent=ctx.user_agent)
    cookies.forget_mfa_ticket(ctx)
    return cookies.sign_in(ctx, signed)


@api.route("/token/refresh", ("POST",), access=Access.PUBLIC, summary="Rotate the refresh token",
           body=json_schema({"refresh_token": TOKEN}, []))
def refresh(ctx: RequestContext):
    raw, api_client = cookies.refresh_token(ctx)
    pair = sessions.refresh(ctx.db, raw, client_ip=ctx.client_ip)
    return {"status": "ok", **cookies.session_tokens(ctx, pair, api_client=api_client)}


@api.route("/password/forgot", ("POST",), access=Access.PUBLIC, summary="Mail a password-reset link",
           body=json_schema({"email": EMAIL}), answers=ACCEPTED)
def forgot(ctx: RequestContext):
    accounts.forgot_password(ctx.db, ctx.body["email"], client_ip=ctx.client_ip)
    return {"status": "reset_sent"}


@api.route("/password/reset", ("POST",), access=Access.PUBLIC, summary="Set a new password from a mailed link",
           body=json_schema({"token": TOKEN, "password": PASSWORD}))
def reset(ctx: RequestContext):
    accounts.reset_password(ctx.db, ctx.body["token"], ctx.body["password"], client_ip=ctx.client_ip)
    return {"status": "password_changed"}


@api.route("/email/confirm", ("POST",), access=Access.PUBLIC, summary="Confirm a new email address",
           body=json_schema({"token": TOKEN}))
def email_confirm(ctx: RequestContext):
    accounts.confirm_email_change(ctx.db, ctx.body["token"], client_ip=ctx.client_ip)
    return {"status": "email_changed"}


@api.route("/.well-known/jwks.json", access=Access.PUBLIC, summary="Public keys that verify access tokens")
def jwks(ctx: RequestContext):
    resp = flask.jsonify(tokens.signing_keys(ctx.settings.keys_path).jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# ---------------------------------------------------------------- social sign-in
@api.route("/oauth/providers", access=Access.PUBLIC, summary="Configured social sign-in providers")
def oauth_providers(ctx: RequestContext):
    return {"items": [{"name": p.name, "display_name": p.display_name} for p in oauth.providers().values()]}


@api.route("/oauth/<name>/start", access=Access.PUBLIC, summary="Go to the provider's sign-in page", answers=REDIRECT)
def oauth_start(ctx: RequestContext, name: str):
    url, state = oauth.start(name)
    cookies.keep_oauth_state(ctx, state)
    return flask.redirect(url, code=302)


@api.route("/oauth/<name>/callback", access=Access.PUBLIC, summary="The provider sends the browser back here",
           answers=REDIRECT, query={"state": TEXT, "code": TEXT})
def oauth_callback(ctx: RequestContext, name: str):
    landing = oauth.callback(ctx.db, name, saved_state=cookies.oauth_state(ctx), state=ctx.args.get("state", ""),
                             code=ctx.args.get("code"), client_ip=ctx.client_ip, user_agent=ctx.user_agent)
    return cookies.land(ctx, landing)


@api.route("/oauth/pending", access=Access.PUBLIC, summary="The social sign-in waiting for a decision")
def oauth_pending(ctx: RequestContext):
    return oauth.pending(cookies.oauth_pending(ctx))


@api.route("/oauth/complete-signup", ("POST",), access=Access.PUBLIC, summary="Create the account of a social sign-in",
           body=json_schema({"name": NAME, "role": ROLE}))
def oauth_complete(ctx: RequestContext):
    signed = oauth.complete_signup(ctx.db, cookies.oauth_pending(ctx), name=ctx.body["name"], role=ctx.body["role"],
                                   client_ip=ctx.client_ip, user_agent=ctx.user_agent)
    cookies.forget_oauth_pending(ctx)
    return {"status": "verification_sent"} if signed is None else cookies.sign_in(ctx, signed)


@api.route("/oauth/confirm-link", ("POST",), access=Access.PUBLIC,
           summary="Link a social identity to the existing account with its password",
           body=json_schema({"password": PASSWORD}))
def oauth_link(ctx: RequestContext):
    signed = oauth.confirm_link(ctx.db, cookies.oauth_pending(ctx), password=ctx.body["password"],
                                client_ip=ctx.client_ip, user_agent=ctx.user_agent)
    cookies.forget_oauth_pending(ctx)
    return cookies.sign_in(ctx, signed)


# ---------------------------------------------------------------- the signed-in user
@api.route("/me", access=ACTIVE_ACCOUNT, summary="The signed-in user")
def me(ctx: RequestContext):
    return accounts.serialize(ctx.db, signed_in_user(ctx))


@api.route("/me", ("PATCH",), access=ACTIVE_ACCOUNT, summary="Change profile fields", body=json_schema({"name": NAME}))
def update_me(ctx: RequestContext):
    return accounts.rename(ctx.db, signed_in_user(ctx), name=ctx.body["name"])


@api.route("/logout", ("POST",), access=ACTIVE_ACCOUNT, summary="End this session")
def logout(ctx: RequestContext):
    sessions.sign_out(ctx.db, signed_in_user(ctx), ctx.principal.session_id, client_ip=ctx.client_ip)
    cookies.clear_session(ctx)
    return {"status": "signed_out"}


@api.route("/logout-all", ("POST",), access=ACTIVE_ACCOUNT, summary="End every session of this user")
def logout_all(ctx: RequestContext):
    sessions.sign_out_everywhere(ctx.db, signed_in_user(ctx), client_ip=ctx.client_ip)
    cookies.clear_session(ctx)
    return {"status": "signed_out"}


@api.route("/sessions", access=ACTIVE_ACCOUNT, summary="Active sessions of this user")
def list_sessions(ctx: RequestContext):
    return {"items": sessions.active_sessions(ctx.db, signed_in_user(ctx).id, ctx.principal.session_id)}


@api.route("/sessions/<uuid:session_id>", ("DELETE",), access=ACTIVE_ACCOUNT, summary="Revoke one session",
           answers=NO_CONTENT)
def revoke_session(ctx: RequestContext, session_id: uuid.UUID):
    sessions.revoke_one(ctx.db, signed_in_user(ctx), session_id, client_ip=ctx.client_ip)


@api.route("/password/change", ("POST",), access=ACTIVE_ACCOUNT, summary="Change password (signs out other sessions)",
           body=json_schema({"current_password": PASSWORD, "new_password": PASSWORD}))
def change_password(ctx: RequestContext):
    accounts.change_password(ctx.db, signed_in_user(ctx), **ctx.body, session_id=ctx.principal.session_id,
                             client_ip=ctx.client_ip)
    return {"status": "password_changed"}


@api.route("/email/change", ("POST",), access=ACTIVE_ACCOUNT, summary="Change email: a link goes to the new address",
           body=json_schema({"password": PASSWORD, "new_email": EMAIL}), answers=ACCEPTED)
def change_email(ctx: RequestContext):
    accounts.request_email_change(ctx.db, signed_in_user(ctx), **ctx.body, client_ip=ctx.client_ip)
    return {"status": "verification_sent"}


# ---------------------------------------------------------------- two-factor
@api.route("/2fa/totp/setup", ("POST",), access=ACTIVE_ACCOUNT, summary="Start TOTP enrolment",
           body=json_schema({"password": PASSWORD}))
def totp_setup(ctx: RequestContext):
    return totp.setup(ctx.db, signed_in_user(ctx), password=ctx.body["password"], client_ip=ctx.client_ip)


@api.route("/2fa/totp/confirm", ("POST",), access=ACTIVE_ACCOUNT, summary="Finish TOTP enrolment with a code",
           body=json_schema({"code": CODE}))
def totp_confirm(ctx: RequestContext):
    return totp.confirm(ctx.db, signed_in_user(ctx), ctx.body["code"], client_ip=ctx.client_ip)


@api.route("/2fa/totp/disable", ("POST",), access=ACTIVE_ACCOUNT, summary="Turn TOTP off (password and code)",
           body=json_schema({"password": PASSWORD, "code": CODE}))
def totp_disable(ctx: RequestContext):
    return totp.disable(ctx.db, signed_in_user(ctx), **ctx.body, client_ip=ctx.client_ip)


@api.route("/2fa/recovery-codes", ("POST",), access=ACTIVE_ACCOUNT,
           summary="Replace the recovery codes (password and code)",
           body=json_schema({"password": PASSWORD, "code": CODE}))
def recovery_codes(ctx: RequestContext):
    return totp.replace_recovery_codes(ctx.db, signed_in_user(ctx), **ctx.body, client_ip=ctx.client_ip)


# ---------------------------------------------------------------- certificates
@api.route("/certificate", ("POST",), access=ACTIVE_ACCOUNT,
           summary="Upload a medical certificate (multipart field 'file')", max_body=10 * 1024 * 1024,
           accepts=("multipart/form-data",), answers=CREATED)
def upload_certificate(ctx: RequestContext):
    user = signed_in_user(ctx)
    certificates.require_uploader(user)  # before the upload is read
    data = certificates.read_upload(ctx.request)
    return {"certificate": certificates.upload(ctx.db, user, data, client_ip=ctx.client_ip)}


# ---------------------------------------------------------------- admin
@api.route("/admin/users", access=ADMIN, summary="Search users", query={**admin.USER_QUERY, **PAGE})
def admin_users(ctx: RequestContext):
    page = _page(ctx)
    return admin.list_users(ctx.db, admin.UserFilter.from_query(ctx.args), **page)


@api.route(USER + "/deactivate", ("POST",), access=ADMIN, summary="Deactivate an account")
def admin_deactivate(ctx: RequestContext, user_id: uuid.UUID):
    return admin.set_active(ctx.db, ctx.principal, user_id, active=False, client_ip=ctx.client_ip)


@api.route(USER + "/reactivate", ("POST",), access=ADMIN, summary="Reactivate an account")
def admin_reactivate(ctx: RequestContext, user_id: uuid.UUID):
    return admin.set_active(ctx.db, ctx.principal, user_id, active=True, client_ip=ctx.client_ip)


@api.route("/admin/certificates", access=ADMIN, summary="Certificates by status",
           query={"status": {"enum": list(certificates.STATUSES)}})
def admin_certificates(ctx: RequestContext):
    return certificates.list_certificates(ctx.db, status=one_of(ctx.args, "status", certificates.STATUSES,
                                                                default="pending"))


@api.route(CERTIFICATE + "/file", access=ADMIN, summary="Download a certificate",
           answers=Answer(200, tuple(certificates.MEDIA_TYPES)))
def admin_certificate_file(ctx: RequestContext, cert_id: uuid.UUID):
    data, content_type = certificates.download(ctx.db, ctx.principal, cert_id, client_ip=ctx.client_ip)
    return flask.Response(data, mimetype=content_type,
                          headers={"Content-Disposition": "inline", "Content-Security-Policy": CERTIFICATE_CSP})


@api.route(CERTIFICATE + "/approve", ("POST",), access=ADMIN, summary="Approve a certificate")
def admin_approve(ctx: RequestContext, cert_id: uuid.UUID):
    return certificates.approve(ctx.db, ctx.principal, cert_id, client_ip=ctx.client_ip)


@api.route(CERTIFICATE + "/reject", ("POST",), access=ADMIN, summary="Reject with a reason",
           body=json_schema({"reason": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": r"\S"}}))
def admin_reject(ctx: RequestContext, cert_id: uuid.UUID):
    return certificates.reject(ctx.db, ctx.principal, cert_id, reason=ctx.body["reason"], client_ip=ctx.client_ip)


@api.route("/admin/audit", access=ADMIN, summary="Read the audit log", query={**admin.AUDIT_QUERY, **PAGE})
def admin_audit(ctx: RequestContext):
    page = _page(ctx)
    return admin.list_audit(ctx.db, admin.AuditFilter.from_query(ctx.args), **page)


@api.route("/admin/audit/verify", access=ADMIN, summary="Check the audit log's hash chain")
def admin_audit_verify(ctx: RequestContext):
    return admin.verify_audit(ctx.db)


@api.route("/noop", access=ACTIVE_ACCOUNT,
           summary="Does nothing; measures the cost of authentication and of the per-request session check")
def noop(ctx: RequestContext):
    return {"ok": True}


@api.route("/noop-public", access=Access.PUBLIC, summary="Does nothing, without authentication (benchmark baseline)")
def noop_public(ctx: RequestContext):
    return {"ok": True}
