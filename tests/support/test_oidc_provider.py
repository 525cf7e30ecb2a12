"""Tests for the local stand-in OpenID provider, driven by a real OAuth client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, import_key

from tests.support.oidc_provider import OIDCProvider

REDIRECT_URI = "http://127.0.0.1:8765/auth/callback"


@pytest.fixture
def idp() -> Iterator[OIDCProvider]:
    with OIDCProvider(redirect_uris=[REDIRECT_URI]) as provider:
        provider.add_user("alice-1", email="alice@example.org", name="Alice Liddell")
        provider.add_user("bob-2", email="bob@example.org", name="Bob", email_verified=False)
        provider.login_as("alice-1")
        yield provider


def discover(idp: OIDCProvider) -> dict:
    response = requests.get(idp.metadata_url, timeout=5)
    response.raise_for_status()
    return response.json()


def new_session(idp: OIDCProvider, **kwargs) -> OAuth2Session:
    return OAuth2Session(
        idp.client_id,
        idp.client_secret,
        scope="openid email profile",
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        **kwargs,
    )


def authorize(
    idp: OIDCProvider, session: OAuth2Session, verifier: str, nonce: str
) -> tuple[str, str]:
    """Play the browser: hit /authorize; return the callback URL it redirects to and the state."""
    url, state = session.create_authorization_url(
        discover(idp)["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return location, state


@dataclass
class Grant:
    """An authorization code the browser brought back to the client, and what the client needs to redeem it."""

    idp: OIDCProvider
    session: OAuth2Session
    callback: str
    state: str
    verifier: str

    def redeem(self, *, by: OAuth2Session | None = None, verifier: str | None = None,
               endpoint: str | None = None) -> dict:
        """The token request (by this grant's client unless `by`), with its PKCE verifier unless told another."""
        return (by or self.session).fetch_token(
            endpoint or self.idp.issuer + "/token",
            authorization_response=self.callback,
            state=self.state,
            code_verifier=verifier or self.verifier,
        )


def grant(idp: OIDCProvider, nonce: str, session: OAuth2Session | None = None) -> Grant:
    """Play the browser through /authorize with a fresh PKCE verifier."""
    session = session or new_session(idp)
    verifier = generate_token(48)
    callback, state = authorize(idp, session, verifier, nonce)
    return Grant(idp, session, callback, state, verifier)


def refused(redeem: Callable[[], object]) -> str:
    """The OAuth error a token request is refused with."""
    with pytest.raises(OAuthError) as excinfo:
        redeem()
    return excinfo.value.error


def test_discovery_document(idp: OIDCProvider) -> None:
    doc = discover(idp)
    OpenIDProviderMetadata(doc).validate()  # authlib's own RFC 8414 / OIDC checks
    assert idp.issuer.startswith("http://127.0.0.1:")
    assert doc["issuer"] == idp.issuer
    for key, path in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
    ]:
        assert doc[key] == idp.issuer + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["scopes_supported"] == ["openid", "email", "profile"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "/.well-known/openid-configuration" in idp.requests_log


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_code_flow_returns_verifiable_id_token(idp: OIDCProvider, auth_method: str) -> None:
    doc = discover(idp)
    nonce = generate_token(20)
    code = grant(idp, nonce, new_session(idp, token_endpoint_auth_method=auth_method))
    assert parse_qs(urlsplit(code.callback).query)["state"] == [code.state]

    token = code.redeem(endpoint=doc["token_endpoint"])
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"]

    jwks = KeySet.import_key_set(requests.get(doc["jwks_uri"], timeout=5).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] == jwks.keys[0].kid

    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={"iss": {"value": idp.issuer}, "aud": {"value": idp.client_id}},
        params={"nonce": nonce, "client_id": idp.client_id},
    )
    claims.validate()  # iss, aud, exp, iat, nonce and at_hash against the access token
    claims.validate_at_hash()
    assert claims["nonce"] == nonce
    assert claims["aud"] == idp.client_id
    assert claims["iss"] == idp.issuer
    assert claims["sub"] == "alice-1"
    assert claims["email"] == "alice@example.org"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice Liddell"
    assert claims["exp"] > claims["iat"]
    assert idp.requests_log.count("/token") == 1


def test_id_token_is_not_signed_by_another_provider(idp: OIDCProvider) -> None:
    token = grant(idp, "n-1").redeem()
    with OIDCProvider() as other:
        other_keys = requests.get(other.issuer + "/jwks.json", timeout=5).json()
    (other_key,) = other_keys["keys"]
    foreign_key = import_key(other_key)  # right type and alg, wrong key
    with pytest.raises(BadSignatureError):
        jwt.decode(token["id_token"], foreign_key, algorithms=["RS256"])


def test_reused_code_is_refused(idp: OIDCProvider) -> None:
    code = grant(idp, "n-2")
    code.redeem()

    assert refused(code.redeem) == "invalid_grant"


def test_wrong_pkce_verifier_is_refused(idp: OIDCProvider) -> None:
    code = grant(idp, "n-3")

    assert refused(lambda: code.redeem(verifier=generate_token(48))) == "invalid_grant"


def test_expired_code_is_refused(idp: OIDCProvider) -> None:
    code = grant(idp, "n-8")
    (value,) = parse_qs(urlsplit(code.callback).query)["code"]
    idp._codes[value].expires_at -= 61  # as if the user took over a minute

    assert refused(code.redeem) == "invalid_grant"


def test_plain_pkce_is_refused(idp: OIDCProvider) -> None:
    session = new_session(idp)
    verifier = generate_token(48)
    url, _ = session.create_authorization_url(
        idp.issuer + "/authorize", code_challenge=verifier, code_challenge_method="plain"
    )
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == [
        "invalid_request"
    ]


def test_wrong_client_secret_is_refused(idp: OIDCProvider) -> None:
    code = grant(idp, "n-4")
    intruder = OAuth2Session(idp.client_id, "not-the-secret", redirect_uri=REDIRECT_URI)

    assert refused(lambda: code.redeem(by=intruder)) == "invalid_client"


def test_unregistered_redirect_uri_gets_400_without_redirect(idp: OIDCProvider) -> None:
    session = new_session(idp)
    url, _ = session.create_authorization_url(
        idp.issuer + "/authorize",
        redirect_uri="http://127.0.0.1:8765/evil",
        code_verifier=generate_token(48),
        nonce="n-5",
    )
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.json()["error"] == "invalid_request"


def test_authorize_without_signed_in_user_is_403() -> None:
    with OIDCProvider(redirect_uris=[REDIRECT_URI]) as provider:
        session = new_session(provider)
        url, _ = session.create_authorization_url(
            provider.issuer + "/authorize", code_verifier=generate_token(48), nonce="n-6"
        )
        response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 403
    assert "Location" not in response.headers


def test_missing_openid_scope_is_redirected_as_invalid_scope(idp: OIDCProvider) -> None:
    session = new_session(idp)
    url, state = session.create_authorization_url(idp.issuer + "/authorize", scope="email")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["state"] == [state]


def test_any_loopback_redirect_is_accepted_when_none_registered() -> None:
    with OIDCProvider() as provider:
        provider.add_user("u", email="u@example.org", name="U")
        provider.login_as("u")
        for redirect_uri, expected in [
            ("http://localhost:5000/cb", 302),
            ("http://127.0.0.1:9/cb", 302),
            ("https://example.org/cb", 400),
        ]:
            session = OAuth2Session(provider.client_id, provider.client_secret, scope="openid")
            url, _ = session.create_authorization_url(
                provider.issuer + "/authorize", redirect_uri=redirect_uri
            )
            response = requests.get(url, allow_redirects=False, timeout=5)
            assert response.status_code == expected, redirect_uri


def test_userinfo_returns_selected_user(idp: OIDCProvider) -> None:
    idp.login_as("bob-2")
    code = grant(idp, "n-7")
    code.redeem()

    info = code.session.get(discover(idp)["userinfo_endpoint"], timeout=5).json()
    assert info == {
        "sub": "bob-2",
        "email": "bob@example.org",
        "email_verified": False,
        "name": "Bob",
    }
    assert requests.get(idp.issuer + "/userinfo", timeout=5).status_code == 401
    assert "/userinfo" in idp.requests_log


def test_authlib_flask_client_signs_in_via_metadata_url(idp: OIDCProvider) -> None:
    """The platform's own path: authlib's Flask client configured by server_metadata_url."""
    app = Flask(__name__)
    app.secret_key = "test"
    oauth = OAuth(app)
    oauth.register(
        "idp",
        client_id=idp.client_id,
        client_secret=idp.client_secret,
        server_metadata_url=idp.metadata_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )

    @app.get("/login")
    def login() -> Any:
        return oauth.idp.authorize_redirect(REDIRECT_URI)

    @app.get("/auth/callback")
    def callback() -> Any:
        token = oauth.idp.authorize_access_token()  # checks id_token signature, nonce, iss, aud
        return {
            "id_token": dict(token["userinfo"]),
            "userinfo": dict(oauth.idp.userinfo(token=token)),
        }

    browser = app.test_client()
    to_idp = browser.get("/login").headers["Location"]
    assert "code_challenge_method=S256" in to_idp and "nonce=" in to_idp
    back = requests.get(to_idp, allow_redirects=False, timeout=5).headers["Location"]
    result = browser.get(back.removeprefix("http://127.0.0.1:8765"))

    assert result.status_code == 200, result.text
    assert result.json["id_token"]["sub"] == "alice-1"
    assert result.json["id_token"]["email"] == "alice@example.org"
    assert result.json["userinfo"]["name"] == "Alice Liddell"
    assert idp.requests_log[-4:] == ["/authorize", "/token", "/jwks.json", "/userinfo"]
