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
from sqlalchemy.orm import Session

from functions.auth import accounts, events, login
from functions.auth.login import SignIn
from functions.common.accounts.tables import OAuthIdentity, User
from functions.common.platform import mail
from functions.common.platform.config import get_settings
from functions.common.platform.errors import Conflict, NotAuthenticated, NotFound
from functions.common.security import audit, passwords
from functions.common.security.crypto import CryptoError, envelope

log = logging.getLogger(__name__)

STATE_TTL = 600  # seconds a provider round trip, and then the decision it leads to, may take
SIGNED_IN, SECOND_FACTOR, DECIDE = "/", "/signin/2fa", "/oauth/complete"
FAILED = "/signin?error=oauth_failed"

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
class Landing:
    """Where the browser goes after the provider's page, and what it carries there."""

    path: str
    sign_in: SignIn | None = None  # a linked account passed its first factor
    pending: str | None = None  # a sealed sign-up or link that waits for the user's decision


@dataclass(frozen=True)
class Provider:
    """A configured sign-in provider: a preset's endpoints, or an OpenID Connect discovery document."""

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
    def redirect_uri(self) -> str:
        """Where the provider sends the browser back to."""
        return f"{get_settings().public_url}/api/auth/oauth/{self.name}/callback"

    def client(self) -> OAuth2Session:
        """An OAuth 2.0 client for one round trip, with PKCE."""
        return OAuth2Session(self.client_id, self.client_secret, scope=self.scope, redirect_uri=self.redirect_uri,
                             code_challenge_method="S256")

    @property
    def is_oidc(self) -> bool:
        """An OpenID Connect provider (an ID token to verify), not plain OAuth 2.0 with a user-info endpoint."""
        return self.metadata_url is not None

    @functools.cached_property
    def metadata(self) -> dict:
        """The provider's endpoints (fetched once per process for OpenID Connect)."""
        if not self.metadata_url:
            return {"authorization_endpoint": self.authorize_url, "token_endpoint": self.token_url,
                    "userinfo_endpoint": self.userinfo_url}
        resp = requests.get(self.metadata_url, timeout=10)
        resp.raise_for_status()
        return resp.json()


def providers() -> dict[str, Provider]:
    """The providers MCC_OAUTH_PROVIDERS configures, by name."""
    out = {}
    for entry in get_settings().providers:
        merged = {**PRESETS.get(entry.get("preset", entry["name"]), {}), **entry}
        merged.pop("preset", None)
        merged.setdefault("display_name", entry["name"].title())
        out[entry["name"]] = _cached_provider(json.dumps(merged, sort_keys=True))
    return out


@functools.cache
def _cached_provider(spec: str) -> Provider:
    fields = {k: v for k, v in json.loads(spec).items() if k in Provider.__dataclass_fields__}
    return Provider(**fields)


def provider(name: str) -> Provider:
    """A configured provider, or 404."""
    found = providers().get(name)
    if found is None:
        raise NotFound("No such sign-in provider.", code="unknown_provider")
    return found


def _seal(data: dict) -> str:
    return base64.urlsafe_b64encode(envelope().seal(json.dumps(data).encode(), aad=b"oauth-cookie")).decode()


def _unseal(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        data = json.loads(envelope().open(base64.urlsafe_b64decode(raw), aad=b"oauth-cookie"))
    except (ValueError, CryptoError):
        return None
    return data if data.get("exp", 0) > time.time() else None


def start(name: str) -> tuple[str, str]:
    """The provider URL to send the browser to, and the sealed state (state, nonce, PKCE verifier) to keep."""
    p = provider(name)
    verifier, nonce = generate_token(48), generate_token(24)
    url, state = p.client().create_authorization_url(p.metadata["authorization_endpoint"], code_verifier=verifier,
                                                      nonce=nonce)
    return url, _seal({"p": p.name, "state": state, "nonce": nonce, "v": verifier, "exp": time.time() + STATE_TTL})


def _verified_id_token(p: Provider, token: dict, nonce: str) -> dict:
    keys = requests.get(p.metadata["jwks_uri"], timeout=10).json()
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(keys))
    JWTClaimsRegistry(leeway=30, iss={"essential": True, "value": p.metadata["issuer"]},
                      aud={"essential": True, "value": p.client_id}, exp={"essential": True},
                      nonce={"essential": True, "value": nonce}, sub={"essential": True}).validate(decoded.claims)
    return decoded.claims


def _email_verified(claim: Any) -> bool:
    """A provider vouches for an email only with the JSON boolean true: a string ("false" is truthy), a number or
    a missing claim is not a verification, so linking to an existing account stays closed."""
    return claim is True


def _identity(p: Provider, client: OAuth2Session, token: dict, nonce: str) -> dict:
    """Provider-neutral identity: subject, email, whether the provider verified it, name."""
    if p.is_oidc:
        claims = _verified_id_token(p, token, nonce)
        if "email" not in claims and p.metadata.get("userinfo_endpoint"):
            claims = {**client.get(p.metadata["userinfo_endpoint"], timeout=10).json(), **claims}
        return {"subject": str(claims["sub"]), "email": claims.get("email"),
                "email_verified": _email_verified(claims.get("email_verified")), "name": claims.get("name") or ""}
    info = client.get(p.userinfo_url, timeout=10).json()
    email, verified = info.get("email"), False
    if p.emails_url:  # GitHub: the primary verified address
        for entry in client.get(p.emails_url, timeout=10).json():
            if entry.get("primary"):
                email, verified = entry.get("email"), _email_verified(entry.get("verified"))
    return {"subject": str(info.get("id") or info.get("sub")), "email": email, "email_verified": verified,
            "name": info.get("name") or info.get("display_name") or info.get("login") or ""}


def callback(db: Session, name: str, *, saved_state: str | None, state: str, code: str | None, client_ip: str,
             user_agent: str) -> Landing:
    """Finish the provider round trip: sign a linked account in, or ask the user to sign up or link."""
    p = provider(name)
    saved = _unseal(saved_state)
    if saved is None or saved["p"] != p.name or not secrets.compare_digest(state.encode(), saved["state"].encode()):
        _failed(db, p, "state_mismatch", client_ip=client_ip)
        return Landing(FAILED)
    if code is None:
        return Landing(FAILED)
    client = p.client()
    try:
        token = client.fetch_token(p.metadata["token_endpoint"], code=code, code_verifier=saved["v"])
        ident = _identity(p, client, token, saved["nonce"])
    except Exception as e:  # noqa: BLE001 - any provider failure ends the same way for the user
        log.warning("oauth exchange failed", extra={"provider": p.name, "error": type(e).__name__})
        _failed(db, p, type(e).__name__, client_ip=client_ip)
        return Landing(FAILED)
    return _land(db, p, ident, client_ip=client_ip, user_agent=user_agent)


def _failed(db: Session, p: Provider, reason: str, *, client_ip: str) -> None:
    audit.record(db, "oauth_login", outcome="failure", client_ip=client_ip,
                 details={"provider": p.name, "reason": reason})


def _land(db: Session, p: Provider, ident: dict, *, client_ip: str, user_agent: str) -> Landing:
    linked = db.scalar(select(OAuthIdentity).where(OAuthIdentity.provider == p.name,
                                                   OAuthIdentity.subject == ident["subject"]))
    if linked is not None:
        user = db.get(User, linked.user_id)
        if user.status == "deactivated":
            return Landing("/signin?error=account_deactivated")
        signed = login.first_factor_passed(db, user, amr=["oauth"], api_client=False, client_ip=client_ip,
                                           user_agent=user_agent)
        return Landing(SECOND_FACTOR if signed.mfa_ticket else SIGNED_IN, sign_in=signed)
    email = accounts.normalise_email(ident["email"]) if ident.get("email") else None
    existing = accounts.by_email(db, email) if email else None
    if existing is not None and not ident["email_verified"]:
        return Landing("/signin?error=oauth_email_unverified")
    pending = {"kind": "link" if existing else "signup", "provider": p.name, "subject": ident["subject"],
               "email": email, "email_verified": ident["email_verified"], "name": ident["name"][:200],
               "exp": time.time() + STATE_TTL}
    return Landing(DECIDE, pending=_seal(pending))


def _pending(sealed: str | None) -> dict:
    data = _unseal(sealed)
    if data is None:
        raise NotFound("No social sign-in is waiting; start again.", code="no_pending")
    return data


def pending(sealed: str | None) -> dict:
    """The sign-up or link waiting for the user's decision, as the portal shows it."""
    data = _pending(sealed)
    return {"kind": data["kind"], "email": data["email"], "name": data["name"],
            "provider": providers()[data["provider"]].display_name}


def _link(db: Session, data: dict, user: User, *, client_ip: str) -> None:
    db.add(OAuthIdentity(id=uuid.uuid4(), provider=data["provider"], subject=data["subject"], user_id=user.id))
    events.record(db, "oauth_linked", user, client_ip=client_ip, details={"provider": data["provider"]})


def complete_signup(db: Session, sealed: str | None, *, name: str, role: str, client_ip: str,
                    user_agent: str) -> SignIn | None:
    """Create the account of a social sign-in; None when its email must be verified first (a link is mailed)."""
    data = _pending(sealed)
    if data["kind"] != "signup":
        raise Conflict("An account with this email exists; link it with its password instead.", code="email_taken")
    if not data.get("email"):
        raise Conflict("This sign-in cannot create an account: the provider gave no email address.", code="no_email")
    if accounts.by_email(db, data["email"]) is not None:
        raise Conflict("An account with this email exists now; sign in instead.", code="email_taken")
    user = accounts.create_user(db, email=data["email"], name=name, role=role, password=None,
                                email_verified=data["email_verified"])
    events.record(db, "signup", user, client_ip=client_ip, details={"role": user.role, "provider": data["provider"]})
    _link(db, data, user, client_ip=client_ip)
    if not user.email_verified:
        raw = accounts.issue_email_token(db, user, "verify")
        db.commit()
        mail.send(user.email, "Verify your MedCloudCare email",
                  f"Confirm your email address:\n{accounts.link('/verify-email', raw)}")
        return None
    return login.first_factor_passed(db, user, amr=["oauth"], api_client=False, client_ip=client_ip,
                                     user_agent=user_agent)


def confirm_link(db: Session, sealed: str | None, *, password: str, client_ip: str, user_agent: str) -> SignIn:
    """Link a provider identity to an existing account: only with that account's own password."""
    data = _pending(sealed)
    if data["kind"] != "link":
        raise NotFound("No account link is waiting.", code="no_pending")
    user = accounts.by_email(db, data["email"])
    if user is None or not user.password_hash:
        raise NotAuthenticated("The password is not right.", code="invalid_credentials")
    passwords.require_password(db, user, password, client_ip=client_ip)
    if user.status == "deactivated":
        raise NotAuthenticated("This account is deactivated.", code="account_deactivated")
    _link(db, data, user, client_ip=client_ip)
    user.email_verified = True
    return login.first_factor_passed(db, user, amr=["pwd", "oauth"], api_client=False, client_ip=client_ip,
                                     user_agent=user_agent)
