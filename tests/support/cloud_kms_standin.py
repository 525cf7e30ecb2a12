"""Local stand-in for Google Cloud KMS's v1 REST API, used only by tests.

The platform's Cloud KMS key provider (functions/common/security/kms.py) talks to cloudkms.googleapis.com in the
cloud. Tests have no Google project, so this module answers the same REST paths on loopback, keeping key versions
in memory: `cryptoKeys.get`, `:encrypt`, `:decrypt`, `cryptoKeyVersions.create` and `:updatePrimaryVersion`, with
base64 bodies, additional authenticated data, the version used in the encrypt answer's `name`, and Google JSON
errors (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND). Ciphertexts are this
stand-in's own (AES-256-GCM under the version's key), as opaque to callers as real KMS ciphertexts. Bearer tokens are
checked against the ones granted on each key, as IAM would; `/token` is Google's OAuth token endpoint for service
accounts (the JWT-bearer grant of Application Default Credentials from a key file): a signed assertion of a registered
account gets that account's access token. It is never part of the production code.

    with CloudKmsStandIn() as kms:
        key = kms.create_key("projects/p/locations/global/keyRings/r/cryptoKeys/k", grant=["test-token"])
        ...  # CloudKmsKeyProvider(key, session=..., endpoint=kms.url)
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import Flask, Response, jsonify, request
from mcc_local.serving import Service, ThreadedWsgiServer

_KEY = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+")
_ROUTE = re.compile(rf"(?P<key>{_KEY.pattern})(?P<rest>/cryptoKeyVersions|:encrypt|:decrypt|:updatePrimaryVersion)?")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_PLAINTEXT = 64 * 1024  # Cloud KMS's limit for symmetric encrypt
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class _Refusal(Exception):
    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status or _STATUS[code]


@dataclass
class _Key:
    name: str
    grants: set[str]
    versions: dict[int, bytes] = field(default_factory=dict)  # version number -> AES key
    primary: int = 0

    def version_name(self, number: int) -> str:
        return f"{self.name}/cryptoKeyVersions/{number}"

    def resource(self) -> dict[str, Any]:
        return {"name": self.name, "purpose": "ENCRYPT_DECRYPT",
                "primary": {"name": self.version_name(self.primary), "state": "ENABLED",
                            "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"}}


class CloudKmsStandIn(Service):
    """Cloud KMS v1 REST on http://127.0.0.1:<port>, keys in memory."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}
        self._accounts: dict[str, tuple[rsa.RSAPublicKey, str]] = {}  # service account email -> (public key, access token)
        self._lock = threading.Lock()
        self.requests = 0
        self._server = ThreadedWsgiServer(self._app(), name="cloud-kms-standin")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def start(self) -> CloudKmsStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def create_key(self, name: str, *, grant: list[str]) -> str:
        """A crypto key with one enabled primary version, usable by bearers of the `grant` tokens."""
        if not _KEY.fullmatch(name):
            raise ValueError(f"name: {name!r} is not a crypto key name")
        with self._lock:
            key = self._keys[name] = _Key(name, set(grant))
            self._new_version(key, primary=True)
        return name

    def write_credentials_file(self, path: Path, *, email: str, access_token: str) -> Path:
        """A service-account key file for Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS) whose
        token endpoint is this stand-in's, which answers its signed assertions with `access_token`."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._accounts[email] = (private_key.public_key(), access_token)
        path.write_text(json.dumps({
            "type": "service_account", "project_id": email.split("@")[1].split(".")[0], "client_email": email,
            "client_id": "1", "private_key_id": "stand-in", "token_uri": f"{self.url}/token",
            "private_key": private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(),
        }))
        path.chmod(0o600)
        return path

    def revoke(self, name: str, token: str) -> None:
        """Take the key's use away from a token (IAM binding removed)."""
        with self._lock:
            self._keys[name].grants.discard(token)

    # --- the API ---------------------------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("cloud_kms_standin")

        @app.route("/v1/<path:path>", methods=["GET", "POST"])
        def api(path: str) -> Response | tuple[Response, int]:
            self.requests += 1
            try:
                return jsonify(self._handle(path))
            except _Refusal as e:
                return jsonify({"error": {"code": e.code, "message": e.message, "status": e.status}}), e.code

        @app.post("/token")
        def token() -> Response | tuple[Response, int]:
            access = self._grant(request.form.get("grant_type", ""), request.form.get("assertion", ""))
            if access is None:
                return jsonify({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}), 400
            return jsonify({"access_token": access, "expires_in": 3600, "token_type": "Bearer"})

        return app

    def _grant(self, grant_type: str, assertion: str) -> str | None:
        """The access token of the service account whose signed, current RS256 assertion this is, else None.
        Checked by hand over the segments as sent: Debian's older google-auth (the archive plugin's) pads them,
        which Google accepts and strict JWT libraries refuse."""
        if grant_type != JWT_BEARER:
            return None
        try:
            header, payload, signature = (_b64url(segment) for segment in assertion.split("."))
            claims = json.loads(payload)
            public_key, access_token = self._accounts[claims["iss"]]
            public_key.verify(signature, assertion.rsplit(".", 1)[0].encode(), PKCS1v15(), SHA256())
        except (InvalidSignature, KeyError, TypeError, ValueError):
            return None
        if json.loads(header).get("alg") != "RS256" or not float(claims.get("exp", 0)) > time.time():
            return None
        return access_token

    def _handle(self, path: str) -> dict[str, Any]:
        match = _ROUTE.fullmatch(path)
        if match is None:
            raise _Refusal(404, f"Resource '{path}' was not found")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            raise _Refusal(401, "Request is missing required authentication credential.")
        with self._lock:
            key = self._keys.get(match["key"])
            if key is None or token not in key.grants:
                if key is not None or token not in {t for k in self._keys.values() for t in k.grants}:
                    raise _Refusal(403, f"Permission denied on resource '{match['key']}' (or it may not exist).")
                raise _Refusal(404, f"CryptoKey {match['key']} not found.")
            rest, body = match["rest"], request.get_json(silent=True) or {}
            if request.method == "GET" and rest is None:
                return key.resource()
            if request.method != "POST" or rest is None:
                raise _Refusal(404, "Method not found.")
            return {":encrypt": self._encrypt, ":decrypt": self._decrypt, "/cryptoKeyVersions": self._create_version,
                    ":updatePrimaryVersion": self._update_primary}[rest](key, body)

    def _encrypt(self, key: _Key, body: dict[str, Any]) -> dict[str, Any]:
        plaintext, aad = _b64_field(body, "plaintext", required=True), _b64_field(body, "additionalAuthenticatedData")
        if len(plaintext) > MAX_PLAINTEXT:
            raise _Refusal(400, f"The request's plaintext exceeds {MAX_PLAINTEXT} bytes.")
        nonce = os.urandom(12)
        sealed = AESGCM(key.versions[key.primary]).encrypt(nonce, plaintext, _aad(key, aad))
        ciphertext = struct.pack(">I", key.primary) + nonce + sealed
        return {"name": key.version_name(key.primary), "ciphertext": base64.b64encode(ciphertext).decode(),
                "protectionLevel": "SOFTWARE"}

    def _decrypt(self, key: _Key, body: dict[str, Any]) -> dict[str, Any]:
        ciphertext, aad = _b64_field(body, "ciphertext", required=True), _b64_field(body, "additionalAuthenticatedData")
        version = struct.unpack(">I", ciphertext[:4])[0] if len(ciphertext) > 16 else 0
        try:
            plaintext = AESGCM(key.versions[version]).decrypt(ciphertext[4:16], ciphertext[16:], _aad(key, aad))
        except (KeyError, InvalidTag):
            raise _Refusal(400, "Decryption failed: the ciphertext is invalid.") from None
        return {"plaintext": base64.b64encode(plaintext).decode(), "usedPrimary": version == key.primary,
                "protectionLevel": "SOFTWARE"}

    def _create_version(self, key: _Key, body: dict[str, Any]) -> dict[str, Any]:
        return {"name": key.version_name(self._new_version(key, primary=False)), "state": "ENABLED"}

    def _update_primary(self, key: _Key, body: dict[str, Any]) -> dict[str, Any]:
        try:
            number = int(body["cryptoKeyVersionId"])
        except (KeyError, TypeError, ValueError):
            raise _Refusal(400, "Invalid value at 'crypto_key_version_id'.") from None
        if number not in key.versions:
            raise _Refusal(404, f"CryptoKeyVersion {key.version_name(number)} not found.")
        key.primary = number
        return key.resource()

    @staticmethod
    def _new_version(key: _Key, *, primary: bool) -> int:
        number = max(key.versions, default=0) + 1
        key.versions[number] = AESGCM.generate_key(bit_length=256)
        if primary:
            key.primary = number
        return number


def _aad(key: _Key, aad: bytes) -> bytes:
    """A ciphertext opens only under the key that made it and with the same additional authenticated data."""
    return key.name.encode() + b"\x00" + aad


def _b64_field(body: dict[str, Any], name: str, *, required: bool = False) -> bytes:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _Refusal(400, f"Invalid value at '{name}': required.")
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _Refusal(400, f"Invalid value at '{name}' (TYPE_BYTES), Base64 decoding failed.") from None


def _b64url(segment: str) -> bytes:
    """A base64url JWT segment, padded or not."""
    return base64.urlsafe_b64decode(segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4))
