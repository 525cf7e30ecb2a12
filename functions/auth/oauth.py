"""Social sign-in over OAuth 2.0 / OpenID Connect (authlib client, PKCE, state and nonce).

Providers come from MCC_OAUTH_PROVIDERS. An entry with `metadata_url` is a generic OpenID
Connect provider; `preset` fills in the endpoints of a well-known one.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import select

from functions.auth import accounts, login
from functions.common import audit, mail, passwords
from functions.common.crypto import CryptoError, envelope
from functions.common.errors import Conflict, NotAuthenticated, NotFound
from functions.common.http import RequestContext
from functions.common.models import OAuthIdentity, User

log = logging.getLogger(__name__)

STATE_COOKIE = "mcc_oauth_state"
PENDING_COOKIE = "mcc_oauth_pending"
COOKIE_PATH = "/api/auth"
STATE_TTL = 600

PRESETS: dict[str, dict[str, Any]] = {
    "google": {"display_name": "Google", "metadata_url": "https://accounts.google.com/.well-known/openid-configuration"},
    "linkedin": {"display_name": "LinkedIn",
                 "metadata_url": "https://www.linkedin.com/oauth/.well-known/openid-configuration"},
    "github": {"display_name": "GitHub", "authorize_url": "https://github.com/login/oauth/authorize",
               "token_url": "https://github.com/login/oauth/access_token", "userinfo_url": "https://api.github.com/user",
               "emails_url": "https://api.github.com/user/emails", "scope": "read:user user:email"},
    "facebook": {"display_name": "Facebook", "authorize_url": "https://www.facebook.com/v19.0/dialog/oauth",
                 "token_url": "https://graph.facebook.com/v19.0/oauth/access_token",
                 "userinfo_url": "https://graph.facebook.com/me?fields=id,name,email", "scope": "email public_profile"},
    "spotify": {"display_name": "Spotify", "authorize_url": "https://accounts.spotify.com/authorize",
                "token_url": "https://accounts.spotify.com/api/token", "userinfo_url": "https://api.spotify.com/v1/me",
                "scope": "user-read-email"},
}


@dataclass(frozen=True)
class Provider:
    name: str
    display_name: str
    client_id: str
    client_secret: str
    metadata_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    emails_url: str | None = None
    scope: str = "openid email profile"

    @property
    def is_oidc(self) -> bool:
        return self.metadata_url is not None

    @functools.cached_property
    def metadata(self) -> dict:
        if not self.metadata_url:
            return {"authorization_endpoint": self.authorize_url, "token_endpoint": self.token_url,
                    "userinfo_endpoint": self.userinfo_url}
        resp = requests.get(self.metadata_url, timeout=10)
        resp.raise_for_status()
        return resp.json()


def providers(ctx: RequestContext) -> dict[str, Provider]:
    out = {}
    for entry in ctx.settings.providers:
        merged = {**PRESETS.get(entry.get("preset", entry["name"]), {}), **entry}
        merged.pop("preset", None)
        merged.setdefault("display_name", entry["name"].title())
        out[entry["name"]] = _cached_provider(json.dumps(merged, sort_keys=True))
    return out


@functools.cache
def _cached_provider(spec: str) -> Provider:
    fields = {k: v for k, v in json.loads(spec).items() if k in Provider.__dataclass_fields__}
    return Provider(**fields)


def provider(ctx: RequestContext, name: str) -> Provider:
    found = providers(ctx).get(name)
    if found is None:
        raise NotFound("No such sign-in provider.", code="unknown_provider")
    return found


def redirect_uri(ctx: RequestContext, p: Provider) -> str:
    return f"{ctx.settings.public_url}/api/auth/oauth/{p.name}/callback"


def _seal_cookie(data: dict) -> str:
    return base64.urlsafe_b64encode(envelope().seal(json.dumps(data).encode(), aad=b"oauth-cookie")).decode()


def _open_cookie(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        data = json.loads(envelope().open(base64.urlsafe_b64decode(raw), aad=b"oauth-cookie"))
    except (ValueError, CryptoError):
        return None
    return data if data.get("exp", 0) > time.time() else None


def start(ctx: RequestContext, name: str) -> str:
    """Return the provider URL to send the browser to, remembering state, nonce and PKCE verifier."""
    p = provider(ctx, name)
    client = OAuth2Session(p.client_id, p.client_secret, scope=p.scope, redirect_uri=redirect_uri(ctx, p),
                           code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(24)
    url, state = client.create_authorization_url(p.metadata["authorization_endpoint"], code_verifier=verifier,
                                                 nonce=nonce)
    ctx.set_cookie(STATE_COOKIE, _seal_cookie({"p": p.name, "state": state, "nonce": nonce, "v": verifier,
                                                "exp": time.time() + STATE_TTL}),
                   max_age=STATE_TTL, path=COOKIE_PATH, same_site="Lax")
    return url


def _verified_id_token(p: Provider, token: dict, nonce: str) -> dict:
    keys = requests.get(p.metadata["jwks_uri"], timeout=10).json()
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(keys))
    JWTClaimsRegistry(leeway=30, iss={"essential": True, "value": p.metadata["issuer"]},
                      aud={"essential": True, "value": p.client_id}, exp={"essential": True},
                      nonce={"essential": True, "value": nonce}, sub={"essential": True}).validate(decoded.claims)
    return decoded.claims


def _identity(p: Provider, client: OAuth2Session, token: dict, nonce: str) -> dict:
    """Provider-neutral identity: subject, email, whether the provider verified it, name."""
    if p.is_oidc:
        claims = _verified_id_token(p, token, nonce)
        if "email" not in claims and p.metadata.get("userinfo_endpoint"):
            claims = {**client.get(p.metadata["userinfo_endpoint"], timeout=10).json(), **claims}
        return {"subject": str(claims["sub"]), "email": claims.get("email"),
                "email_verified": bool(claims.get("email_verified")), "name": claims.get("name") or ""}
    info = client.get(p.userinfo_url, timeout=10).json()
    email, verified = info.get("email"), False
    if p.emails_url:  # GitHub: the primary verified address
        for entry in client.get(p.emails_url, timeout=10).json():
            if entry.get("primary"):
                email, verified = entry.get("email"), bool(entry.get("verified"))
    return {"subject": str(info.get("id") or info.get("sub")), "email": email, "email_verified": verified,
            "name": info.get("name") or info.get("display_name") or info.get("login") or ""}


def callback(ctx: RequestContext, name: str) -> str:
    """Finish the provider round trip; return the portal path to land on."""
    p = provider(ctx, name)
    saved = _open_cookie(ctx.request.cookies.get(STATE_COOKIE))
    ctx.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    args = ctx.request.args
    state = args.get("state", "").encode()
    if saved is None or saved["p"] != p.name or not secrets.compare_digest(state, saved["state"].encode()):
        audit.record(ctx.db, "oauth_login", outcome="failure", client_ip=ctx.client_ip,
                     details={"provider": p.name, "reason": "state_mismatch"})
        return "/signin?error=oauth_failed"
    if "code" not in args:
        return "/signin?error=oauth_failed"
    client = OAuth2Session(p.client_id, p.client_secret, scope=p.scope, redirect_uri=redirect_uri(ctx, p),
                           code_challenge_method="S256")
    try:
        token = client.fetch_token(p.metadata["token_endpoint"], code=args["code"], code_verifier=saved["v"])
        ident = _identity(p, client, token, saved["nonce"])
    except Exception as e:  # noqa: BLE001 - any provider failure ends the same way for the user
        log.warning("oauth exchange failed", extra={"provider": p.name, "error": type(e).__name__})
        audit.record(ctx.db, "oauth_login", outcome="failure", client_ip=ctx.client_ip,
                     details={"provider": p.name, "reason": type(e).__name__})
        return "/signin?error=oauth_failed"
    return _land(ctx, p, ident)


def _land(ctx: RequestContext, p: Provider, ident: dict) -> str:
    linked = ctx.db.scalar(select(OAuthIdentity).where(OAuthIdentity.provider == p.name,
                                                       OAuthIdentity.subject == ident["subject"]))
    if linked is not None:
        user = ctx.db.get(User, linked.user_id)
        if user.status == "deactivated":
            return "/signin?error=account_deactivated"
        result = login.first_factor_passed(ctx, user, amr=["oauth"], api_client=False)
        return "/signin/2fa" if result["status"] == "mfa_required" else "/"
    email = accounts.normalise_email(ident["email"]) if ident.get("email") else None
    existing = accounts.by_email(ctx.db, email) if email else None
    if existing is not None and not ident["email_verified"]:
        return "/signin?error=oauth_email_unverified"
    pending = {"kind": "link" if existing else "signup", "provider": p.name, "subject": ident["subject"],
               "email": email, "email_verified": ident["email_verified"], "name": ident["name"][:200],
               "exp": time.time() + STATE_TTL}
    ctx.set_cookie(PENDING_COOKIE, _seal_cookie(pending), max_age=STATE_TTL, path=COOKIE_PATH, same_site="Lax")
    return "/oauth/complete"


def _pending(ctx: RequestContext) -> dict:
    data = _open_cookie(ctx.request.cookies.get(PENDING_COOKIE))
    if data is None:
        raise NotFound("No social sign-in is waiting; start again.", code="no_pending")
    return data


def pending(ctx: RequestContext) -> dict:
    data = _pending(ctx)
    return {"kind": data["kind"], "email": data["email"], "name": data["name"],
            "provider": providers(ctx)[data["provider"]].display_name}


def _link(ctx: RequestContext, data: dict, user: User) -> None:
    ctx.db.add(OAuthIdentity(id=uuid.uuid4(), provider=data["provider"], subject=data["subject"], user_id=user.id))
    audit.record(ctx.db, "oauth_linked", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 details={"provider": data["provider"]})
    ctx.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)


def complete_signup(ctx: RequestContext) -> dict:
    data = _pending(ctx)
    if data["kind"] != "signup":
        raise Conflict("An account with this email exists; link it with its password instead.", code="email_taken")
    if not data.get("email"):
        raise Conflict("This sign-in cannot create an account: the provider gave no email address.", code="no_email")
    if accounts.by_email(ctx.db, data["email"]) is not None:
        raise Conflict("An account with this email exists now; sign in instead.", code="email_taken")
    user = accounts.create_user(ctx.db, email=data["email"], name=ctx.body["name"], role=ctx.body["role"],
                                password=None, email_verified=data["email_verified"])
    audit.record(ctx.db, "signup", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 details={"role": user.role, "provider": data["provider"]})
    _link(ctx, data, user)
    if not user.email_verified:
        raw = accounts.issue_email_token(ctx.db, user, "verify")
        ctx.db.commit()
        mail.send(user.email, "Verify your MedCloudCare email",
                  f"Confirm your email address:\n{accounts.link('/verify-email', raw)}")
        return {"status": "verification_sent"}
    return login.first_factor_passed(ctx, user, amr=["oauth"], api_client=False)


def confirm_link(ctx: RequestContext) -> dict:
    """Link a provider identity to an existing account: only with that account's own password."""
    data = _pending(ctx)
    if data["kind"] != "link":
        raise NotFound("No account link is waiting.", code="no_pending")
    user = accounts.by_email(ctx.db, data["email"])
    if user is None or not user.password_hash:
        raise NotAuthenticated("The password is not right.", code="invalid_credentials")
    passwords.require_password(ctx, user, ctx.body["password"])
    if user.status == "deactivated":
        raise NotAuthenticated("This account is deactivated.", code="account_deactivated")
    _link(ctx, data, user)
    user.email_verified = True
    return login.first_factor_passed(ctx, user, amr=["pwd", "oauth"], api_client=False)
