"""The auth function's cookies: a browser's session, the second-factor ticket, the social sign-in's state.

Used by views.py only. Services return token pairs, tickets and sealed state; this module hands them
to browsers as cookies (and to API clients in the body) and reads them back from requests."""

from __future__ import annotations

import secrets

import flask

from functions.auth.login import SignIn
from functions.auth.oauth import STATE_TTL, Landing
from functions.common.http import RequestContext, require_csrf_token
from functions.common.platform.errors import NotAuthenticated

# Sent to the auth function alone (path /api/auth), these keep plain names: a `__Host-` name needs path /.
REFRESH_COOKIE = "mcc_refresh"
MFA_COOKIE = "mcc_mfa"
OAUTH_STATE_COOKIE = "mcc_oauth_state"
OAUTH_PENDING_COOKIE = "mcc_oauth_pending"
AUTH_PATH = "/api/auth"  # cookies only the auth function reads are sent to it alone


def session_tokens(ctx: RequestContext, tokens: dict, *, api_client: bool) -> dict:
    """Hand a token pair to the caller: in the body for API clients, as cookies for browsers."""
    if api_client:
        return tokens
    ttl = ctx.settings.refresh_token_ttl
    ctx.set_cookie(ctx.access_cookie, tokens["access_token"], max_age=ttl)
    ctx.set_cookie(REFRESH_COOKIE, tokens["refresh_token"], max_age=ttl, path=AUTH_PATH)
    ctx.set_cookie(ctx.csrf_cookie, secrets.token_urlsafe(24), max_age=ttl, http_only=False)
    return {}


def clear_session(ctx: RequestContext) -> None:
    """Make a browser forget its session."""
    ctx.delete_cookie(ctx.access_cookie)
    ctx.delete_cookie(REFRESH_COOKIE, path=AUTH_PATH)
    ctx.delete_cookie(ctx.csrf_cookie)


def refresh_token(ctx: RequestContext) -> tuple[str, bool]:
    """The refresh token presented and whether an API client sent it (in the body) rather than a browser."""
    raw = ctx.body.get("refresh_token")
    api_client = raw is not None
    if not api_client:
        raw = ctx.request.cookies.get(REFRESH_COOKIE)
        if raw:  # a cookie-based refresh is an unsafe browser request: it needs the CSRF header too
            require_csrf_token(ctx)
    if not raw:
        raise NotAuthenticated("Sign in again.", code="invalid_token")
    return raw, api_client


def sign_in(ctx: RequestContext, signed: SignIn) -> dict:
    """The answer to a passed sign-in step: the second factor's ticket, or the user and their session."""
    if signed.mfa_ticket is not None:
        if signed.api_client:
            return {"status": "mfa_required", "mfa_token": signed.mfa_ticket}
        ctx.set_cookie(MFA_COOKIE, signed.mfa_ticket, max_age=ctx.settings.mfa_token_ttl, path=AUTH_PATH)
        return {"status": "mfa_required"}
    return {"status": "ok", "user": signed.user, **session_tokens(ctx, signed.tokens, api_client=signed.api_client)}


def mfa_ticket(ctx: RequestContext) -> str | None:
    """The second-factor ticket: in the body from API clients, in a cookie from browsers."""
    return ctx.body.get("mfa_token") or ctx.request.cookies.get(MFA_COOKIE)


def forget_mfa_ticket(ctx: RequestContext) -> None:
    """The second factor passed: the ticket is spent."""
    ctx.delete_cookie(MFA_COOKIE, path=AUTH_PATH)


def oauth_state(ctx: RequestContext) -> str | None:
    """The sealed state of the provider round trip under way."""
    return ctx.request.cookies.get(OAUTH_STATE_COOKIE)


def keep_oauth_state(ctx: RequestContext, sealed: str) -> None:
    """Remember the round trip's state until the provider sends the browser back."""
    _keep(ctx, OAUTH_STATE_COOKIE, sealed)


def oauth_pending(ctx: RequestContext) -> str | None:
    """The sealed sign-up or link waiting for the user's decision."""
    return ctx.request.cookies.get(OAUTH_PENDING_COOKIE)


def forget_oauth_pending(ctx: RequestContext) -> None:
    """The user decided: the pending sign-up or link is spent."""
    ctx.delete_cookie(OAUTH_PENDING_COOKIE, path=AUTH_PATH)


def land(ctx: RequestContext, landing: Landing) -> flask.Response:
    """Send the browser back from the provider: the state is spent; a sign-in or a pending decision is kept."""
    ctx.delete_cookie(OAUTH_STATE_COOKIE, path=AUTH_PATH)
    if landing.sign_in is not None:
        sign_in(ctx, landing.sign_in)
    if landing.pending is not None:
        _keep(ctx, OAUTH_PENDING_COOKIE, landing.pending)
    return flask.redirect(landing.path, code=302)


def _keep(ctx: RequestContext, name: str, sealed: str) -> None:
    """Lax, so that the browser sends it on the provider's redirect back to us."""
    ctx.set_cookie(name, sealed, max_age=STATE_TTL, path=AUTH_PATH, same_site="Lax")
