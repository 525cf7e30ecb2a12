"""Local stand-in for an outside OAuth 2.0 / OpenID Connect provider, used only by tests.

MedCloudCare's social login talks to a real identity provider (Google, Microsoft, ...)
in production. Tests have no internet, so this module runs a small but faithful
OpenID provider on loopback instead: authorization-code flow with the OpenID
``openid`` scope, optional PKCE (S256 only), nonce, RS256-signed ID tokens with a
per-instance key, a userinfo endpoint and a JWKS document. The protocol work is
done by authlib's server classes (``AuthorizationCodeGrant``, ``OpenIDCode``,
``CodeChallenge``, ``UserInfoEndpoint``); this module only supplies in-memory
storage and the HTTP wiring. It is never part of the production code.

Usage::

    with OIDCProvider(redirect_uris=["http://127.0.0.1:5000/callback"]) as idp:
        idp.add_user("u1", email="ada@example.org", name="Ada")
        idp.login_as("u1")
        ...  # point the client's server_metadata_url at idp.metadata_url
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from mcc_local.serving import Service, ThreadedWsgiServer

CODE_LIFETIME = 60  # seconds an authorization code stays redeemable
TOKEN_LIFETIME = 3600  # seconds for access tokens and ID tokens
SCOPES = ["openid", "email", "profile"]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
OMITTED = object()  # an `email_verified` the provider leaves out of its claims


@dataclass(frozen=True)
class _User:
    subject: str
    email: str
    name: str
    email_verified: Any  # True or False, or what a careless provider sends ("false", 1), or OMITTED

    def claims(self, scope: str) -> UserInfo:
        info = UserInfo(sub=self.subject, email=self.email, name=self.name)
        if self.email_verified is not OMITTED:
            info["email_verified"] = self.email_verified
        return info.filter(scope)  # only what the granted scopes allow, as real OPs do


@dataclass
class _Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str] | None  # None: any http(s) redirect on loopback
    # authlib's UserInfoEndpoint reads client.client_metadata (signed userinfo opt-in)
    client_metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        # None makes authlib answer invalid_scope: this is an OpenID provider,
        # so "openid" is mandatory.
        scopes = scope_to_list(scope) or []
        return scope if "openid" in scopes else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if self.redirect_uris is not None:
            return redirect_uri in self.redirect_uris
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: _User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class _AccessToken(TokenMixin):
    access_token: str
    client: _Client
    user: _User
    scope: str  # authlib's UserInfoEndpoint reads token.scope directly
    expires_at: float

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return TOKEN_LIFETIME

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> _User:
        return self.user

    def get_client(self) -> _Client:
        return self.client


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Code storage for authlib's grant; the protocol checks stay authlib's."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> OIDCProvider:
        return self.server.provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        item = _AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(time.time()),
            expires_at=time.time() + CODE_LIFETIME,
        )
        self.provider._codes[code] = item
        if item.nonce:
            self.provider._used_nonces.add((item.client_id, item.nonce))

    def query_authorization_code(
        self, code: str, client: _Client
    ) -> _AuthorizationCode | None:
        item = self.provider._codes.get(code)
        if item is None or item.client_id != client.client_id:
            return None
        if time.time() >= item.expires_at:
            self.provider._codes.pop(code, None)
            return None
        return item

    def delete_authorization_code(self, authorization_code: _AuthorizationCode) -> None:
        self.provider._codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _AuthorizationCode) -> _User:
        return authorization_code.user


class _S256Only(CodeChallenge):
    """authlib's PKCE check, restricted to S256 as the discovery document says."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        # a challenge without a method means "plain" (RFC 7636 4.3), which we refuse
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: OIDCProvider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return (request.payload.client_id, nonce) in self.provider._used_nonces

    def resolve_client_private_key(self, client: _Client) -> RSAKey:
        return self.provider._key

    def get_client_algorithm(self, client: _Client) -> str:
        return "RS256"

    def get_encode_header(self, client: _Client) -> dict[str, str]:
        # authlib only adds "kid" through the deprecated get_jwt_config()
        return {"alg": "RS256", "kid": self.provider._key.kid}

    def get_client_claims(self, client: _Client) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.provider.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
        }

    def generate_user_info(self, user: _User, scope: str) -> UserInfo:
        return user.claims(scope)


class _UserInfoEndpoint(UserInfoEndpoint):
    def generate_user_info(self, user: _User, scope: str) -> UserInfo:
        return user.claims(scope)


class _BearerTokenValidator(BearerTokenValidator):
    def __init__(self, provider: OIDCProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> _AccessToken | None:
        return self.provider._tokens.get(token_string)


class OIDCProvider(Service):
    """A local stand-in OpenID Connect provider (authorization code + PKCE) for tests."""

    def __init__(
        self,
        *,
        client_id: str = "mcc-test",
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.requests_log: list[str] = []
        self._client = _Client(client_id, self.client_secret, redirect_uris)
        self._key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
        )
        self._users: dict[str, _User] = {}
        self._signed_in: _User | None = None
        self._codes: dict[str, _AuthorizationCode] = {}
        self._tokens: dict[str, _AccessToken] = {}
        self._used_nonces: set[tuple[str, str]] = set()
        self._lock = threading.Lock()  # one protocol request at a time
        self._app = self._create_app()
        self._http = ThreadedWsgiServer(self._app, name="oidc-provider", poll_interval=0.05)  # quick stop()

    # -- public API ---------------------------------------------------------

    @property
    def issuer(self) -> str:
        if not self._http.running:
            raise RuntimeError("OIDCProvider is not started; call start() first")
        return f"http://127.0.0.1:{self._http.port}"

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def add_user(
        self, subject: str, *, email: str, name: str, email_verified: Any = True
    ) -> None:
        """Register an account at the provider. `email_verified` is sent as given (any JSON value, so
        tests can play a provider that sends the string "false"), or left out when it is OMITTED."""
        self._users[subject] = _User(subject, email, name, email_verified)

    def login_as(self, subject: str) -> None:
        """Sign this user in at the provider: from now on /authorize approves
        (without a login or consent page) as this user until login_as is called
        again with someone else."""
        if subject not in self._users:
            raise KeyError(f"unknown subject {subject!r}; call add_user first")
        self._signed_in = self._users[subject]

    def start(self) -> OIDCProvider:
        """Serve on 127.0.0.1 with an OS-chosen port, in a background thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    # -- wiring -------------------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "userinfo_endpoint": issuer + "/userinfo",
            "jwks_uri": issuer + "/jwks.json",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                "email", "email_verified", "name",
            ],
        }

    def _save_token(self, token: dict[str, Any], req: OAuth2Request) -> None:
        self._tokens[token["access_token"]] = _AccessToken(
            access_token=token["access_token"],
            client=req.client,
            user=req.user,
            scope=token["scope"],
            expires_at=time.time() + token["expires_in"],
        )

    def _create_app(self) -> Flask:
        app = Flask(__name__)
        app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": TOKEN_LIFETIME}

        server = AuthorizationServer(
            app,
            query_client=lambda cid: self._client if cid == self._client.client_id else None,
            save_token=self._save_token,
        )
        server.provider = self  # reached by _AuthorizationCodeGrant
        server.register_grant(
            _AuthorizationCodeGrant, [_OpenIDCode(self), _S256Only(required=False)]
        )
        protector = ResourceProtector()
        protector.register_token_validator(_BearerTokenValidator(self))
        server.register_endpoint(_UserInfoEndpoint(resource_protector=protector))

        @app.before_request
        def log_request() -> None:
            self.requests_log.append(request.path)

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(self._metadata())

        @app.get("/jwks.json")
        def jwks() -> Any:
            return jsonify({"keys": [self._key.as_dict(private=False)]})

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            with self._lock:
                user = self._signed_in
                try:
                    # validates client, redirect_uri, response_type, scope, PKCE, nonce
                    grant = server.get_consent_grant(end_user=user)
                except OAuth2Error as error:
                    # redirects only once redirect_uri is known good; otherwise 400
                    return server.handle_error_response(None, error)
                if user is None:
                    return jsonify(
                        error="login_required",
                        error_description="No user is signed in; call login_as().",
                    ), 403
                return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/token")
        def token() -> Any:
            with self._lock:  # makes query + delete of a code atomic
                return server.create_token_response()

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo() -> Any:
            return server.create_endpoint_response("userinfo")

        return app
