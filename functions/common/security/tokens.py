"""Signed access tokens (ES256 JWT with `kid`): issued by `auth`, verified locally by every function."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import requests
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

from functions.common.platform.config import get_settings
from functions.common.security.crypto import write_secret_file

AUDIENCE = "medcloudcare"
ALGORITHM = "ES256"
VERIFIED_CACHE_SIZE = 10_000


class TokenInvalid(Exception):
    """A token failed verification; `expired` tells the client it may refresh."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


@dataclass(frozen=True)
class Principal:
    """Who is calling, as proven by a verified access token."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None  # None for work done for an account outside a sign-in
    role: str
    status: str
    amr: tuple[str, ...]

    @classmethod
    def acting_for(cls, user_id: uuid.UUID, *, role: str, status: str) -> Principal:
        """The caller for work done on an account's behalf without a sign-in (the demo loader, job runners):
        the permission model treats it as that account."""
        return cls(user_id=user_id, session_id=None, role=role, status=status, amr=())

    @property
    def used_mfa(self) -> bool:
        return "otp" in self.amr


class SigningKeys:
    """The token-signing key pair(s) under KEY_DIR/signing; the newest signs, all verify."""

    def __init__(self, key_dir: Path) -> None:
        self.dir = key_dir / "signing"
        if not (self.dir / "current").exists():
            self.rotate()

    def rotate(self) -> str:
        key = ECKey.generate_key("P-256", private=True)
        kid = key.thumbprint()
        write_secret_file(self.dir / f"{kid}.pem", key.as_pem(private=True))
        (self.dir / "current").write_text(kid)
        return kid

    @functools.cached_property
    def current(self) -> ECKey:
        kid = (self.dir / "current").read_text().strip()
        return ECKey.import_key((self.dir / f"{kid}.pem").read_bytes(), {"kid": kid, "alg": ALGORITHM, "use": "sig"})

    def public_keyset(self) -> KeySet:
        keys = []
        for pem in sorted(self.dir.glob("*.pem")):
            private = ECKey.import_key(pem.read_bytes())
            keys.append(ECKey.import_key(private.as_dict(private=False), {"kid": pem.stem, "alg": ALGORITHM, "use": "sig"}))
        return KeySet(keys)

    def jwks(self) -> dict:
        return self.public_keyset().as_dict()


@functools.cache
def signing_keys(key_dir: Path) -> SigningKeys:
    return SigningKeys(key_dir)


def issue(claims: dict, *, ttl: int, typ: str) -> str:
    """Sign a token of the given type (`access` or `mfa`) for `ttl` seconds."""
    settings = get_settings()
    now = int(time.time())
    body = {"iss": settings.public_url, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + ttl,
            "jti": uuid.uuid4().hex, "typ": typ, **claims}
    key = signing_keys(settings.keys_path).current
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, body, key)


def issue_access(*, user_id: uuid.UUID, session_id: uuid.UUID, role: str, status: str, amr: list[str]) -> str:
    return issue(
        {"sub": str(user_id), "sid": str(session_id), "role": role, "status": status, "amr": amr},
        ttl=get_settings().access_token_ttl,
        typ="access",
    )


class Verifier:
    """Verifies tokens against the local key dir or a JWKS URL (refetched when a new `kid` appears)."""

    def __init__(self, *, key_dir: Path, jwks_url: str | None, issuer: str) -> None:
        self.key_dir, self.jwks_url, self.issuer = key_dir, jwks_url, issuer
        self._lock = threading.Lock()
        self._keyset: KeySet | None = None
        self._fetched_at = 0.0
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._registry = JWTClaimsRegistry(
            leeway=5, exp={"essential": True}, iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": AUDIENCE}, sub={"essential": True},
        )

    def _load(self) -> KeySet:
        if self.jwks_url:
            with requests.Session() as http:
                http.trust_env = False  # the auth function is on loopback or in the cluster: no proxy in between
                resp = http.get(self.jwks_url, timeout=5)
            resp.raise_for_status()
            return KeySet.import_key_set(resp.json())
        return signing_keys(self.key_dir).public_keyset()

    def keyset(self, kid: str | None) -> KeySet:
        with self._lock:
            known = self._keyset is not None and any(k.kid == kid for k in self._keyset.keys)
            if not known and time.monotonic() - self._fetched_at > 10 or self._keyset is None:
                self._keyset = self._load()
                self._fetched_at = time.monotonic()
            return self._keyset

    def verify(self, token: str, *, typ: str) -> dict:
        try:
            header = json.loads(_b64decode(token.split(".", 1)[0]))
            decoded = jwt.decode(token, self.keyset(header.get("kid")), algorithms=[ALGORITHM])
        except (JoseError, ValueError, IndexError, KeyError) as e:
            raise TokenInvalid("token signature or format is invalid") from e
        claims = decoded.claims
        try:
            self._registry.validate(claims)
        except ExpiredTokenError as e:
            raise TokenInvalid("token has expired", expired=True) from e
        except JoseError as e:
            raise TokenInvalid("token claims are invalid") from e
        if claims.get("typ") != typ:
            raise TokenInvalid(f"not an {typ} token")
        return claims

    def principal(self, token: str) -> Principal:
        """The caller of a verified access token; verified tokens are remembered until they expire."""
        with self._lock:
            hit = self._verified.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        claims = self.verify(token, typ="access")
        try:
            principal = Principal(
                user_id=uuid.UUID(claims["sub"]), session_id=uuid.UUID(claims["sid"]), role=claims["role"],
                status=claims["status"], amr=tuple(claims.get("amr", ())),
            )
        except (KeyError, ValueError, TypeError) as e:
            raise TokenInvalid("token claims are invalid") from e
        with self._lock:
            self._verified[token] = (principal, float(claims["exp"]))
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@functools.cache
def _verifier(key_dir: Path, jwks_url: str | None, issuer: str) -> Verifier:
    return Verifier(key_dir=key_dir, jwks_url=jwks_url, issuer=issuer)


def verifier() -> Verifier:
    s = get_settings()
    return _verifier(s.keys_path, s.jwks_url, s.public_url)
