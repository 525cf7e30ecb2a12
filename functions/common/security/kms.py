"""Key-encryption keys in Google Cloud KMS: the `KeyProvider` of keys.py for the cloud.

Data keys are wrapped and unwrapped by Cloud KMS's v1 REST API (`cryptoKeys.encrypt` / `cryptoKeys.decrypt`), so
the KEK never leaves KMS and no pod holds key material. The kek id stored in every sealed blob is the crypto key
version KMS answered with (`.../cryptoKeyVersions/N`): rotation is a new primary version in KMS (its rotation
schedule, or an operator), and blobs wrapped by older versions still open because KMS decrypts with whichever
version produced the ciphertext.

Calls go through google-auth's AuthorizedSession: in GKE the token comes from Workload Identity (the metadata
server) through Application Default Credentials; tests pass a session with a fixed token against a local stand-in.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import google.auth
import requests
from google.auth import exceptions as auth_errors

from functions.common.security.keys import CryptoError

DEFAULT_ENDPOINT = "https://cloudkms.googleapis.com"
KMS_SCOPE = "https://www.googleapis.com/auth/cloudkms"
TIMEOUT_SECONDS = 10.0
_KEY_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+")
_GOOGLE_STATUS = re.compile(r"[A-Z_]{1,40}")
_KEK_ID_MAX = 255  # Envelope stores the kek id's length in one byte.

# What an operator does about each refusal; Google's own message is not repeated (it may name principals).
_HINTS = {
    401: "the credentials were refused: check the pod's Workload Identity binding (or the token)",
    403: "the service account may not use this key: grant it roles/cloudkms.cryptoKeyEncrypterDecrypter on it",
    404: "no such key: check MCC_KMS_KEY_NAME (projects/P/locations/L/keyRings/R/cryptoKeys/K)",
}


class KmsError(RuntimeError):
    """Cloud KMS could not be used (unreachable, refused, missing key): an outage or a misconfiguration, not a
    tampered blob. Carries the operation, HTTP status and Google status code; never key material or tokens."""

    def __init__(self, operation: str, detail: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(f"Cloud KMS {operation}: {detail}")
        self.operation = operation
        self.status = status
        self.code = code


class CloudKmsKeyProvider:
    """Wraps data keys with the primary version of one Cloud KMS crypto key (purpose ENCRYPT_DECRYPT)."""

    def __init__(self, key_name: str, *, session: requests.Session, endpoint: str = DEFAULT_ENDPOINT,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        """`session` adds the credentials (google-auth's AuthorizedSession); `endpoint` is the API's origin."""
        if not _KEY_NAME.fullmatch(key_name):
            raise ValueError(f"key_name: {key_name!r} is not projects/P/locations/L/keyRings/R/cryptoKeys/K")
        if len(f"{key_name}/cryptoKeyVersions/{10**12}") > _KEK_ID_MAX:
            raise ValueError(f"key_name: longer than the {_KEK_ID_MAX - 32} characters a sealed blob can name")
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError(f"endpoint: {endpoint!r} must be an http(s) URL")
        self.key_name = key_name
        self.session = session
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_environment(cls, key_name: str, *, endpoint: str = DEFAULT_ENDPOINT) -> CloudKmsKeyProvider:
        """The provider with Application Default Credentials (Workload Identity in GKE)."""
        from google.auth.transport.requests import AuthorizedSession

        try:
            credentials, _ = google.auth.default(scopes=[KMS_SCOPE])
        except auth_errors.DefaultCredentialsError as e:
            raise KmsError("credentials", "no Application Default Credentials: run in GKE with Workload Identity, "
                                          "or set GOOGLE_APPLICATION_CREDENTIALS") from e
        return cls(key_name, session=AuthorizedSession(credentials), endpoint=endpoint)

    def current_kek_id(self) -> str:
        """The crypto key's primary version: what `wrap` uses now."""
        primary = self._call("GET", "", None, "get key").get("primary") or {}
        name = primary.get("name")
        if not isinstance(name, str) or not name.startswith(self.key_name + "/cryptoKeyVersions/"):
            raise KmsError("get key", "the key has no enabled primary version", code="FAILED_PRECONDITION")
        return name

    def wrap(self, data_key: bytes, *, aad: bytes = b"") -> tuple[str, bytes]:
        body = {"plaintext": _b64(data_key), "additionalAuthenticatedData": _b64(aad)}
        answer = self._call("POST", ":encrypt", body, "encrypt")
        version, ciphertext = answer.get("name"), answer.get("ciphertext")
        if not isinstance(version, str) or not version.startswith(self.key_name + "/") or not ciphertext:
            raise KmsError("encrypt", "the answer names no version of the configured key")
        return version, base64.b64decode(ciphertext)

    def unwrap(self, kek_id: str, wrapped: bytes, *, aad: bytes = b"") -> bytes:
        if not kek_id.startswith(self.key_name + "/cryptoKeyVersions/"):
            raise CryptoError("data key was wrapped by another key-encryption key than the configured KMS key")
        body = {"ciphertext": _b64(wrapped), "additionalAuthenticatedData": _b64(aad)}
        try:
            answer = self._call("POST", ":decrypt", body, "decrypt")
        except KmsError as e:
            if e.status == 400 and e.code == "INVALID_ARGUMENT":  # KMS's answer to a wrong AAD or ciphertext
                raise CryptoError("data key does not unwrap under its key-encryption key") from None
            raise
        plaintext = answer.get("plaintext")
        if not isinstance(plaintext, str) or not plaintext:
            raise KmsError("decrypt", "the answer holds no plaintext")
        return base64.b64decode(plaintext)

    def _call(self, method: str, suffix: str, body: dict[str, str] | None, operation: str) -> dict[str, Any]:
        """One API call; every failure becomes a KmsError saying what to fix (`from None`: request bodies and
        tokens live in the chained exceptions of requests and google-auth)."""
        url = f"{self.endpoint}/v1/{self.key_name}{suffix}"
        try:
            response = self.session.request(method, url, json=body, timeout=self.timeout)
        except auth_errors.GoogleAuthError as e:
            raise KmsError(operation, f"no access token ({type(e).__name__}): check Workload Identity "
                                      "or the metadata server") from None
        except requests.RequestException as e:
            raise KmsError(operation, f"unreachable at {self.endpoint} ({type(e).__name__})") from None
        if response.status_code == 200:
            try:
                return dict(response.json())
            except ValueError:
                raise KmsError(operation, "the answer is not JSON", status=200) from None
        code = _google_status(response)
        hint = _HINTS.get(response.status_code, "refused the request")
        raise KmsError(operation, f"{hint} ({response.status_code} {code}; key {self.key_name})",
                       status=response.status_code, code=code)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _google_status(response: requests.Response) -> str:
    """The `error.status` of a Google JSON error (e.g. PERMISSION_DENIED), or 'UNKNOWN'."""
    try:
        status = response.json()["error"]["status"]
    except (ValueError, KeyError, TypeError):
        return "UNKNOWN"
    return status if isinstance(status, str) and _GOOGLE_STATUS.fullmatch(status) else "UNKNOWN"
