"""Envelope encryption bound to the platform settings, plus keyed hashes for blind indexes.

The primitives live in `keys.py` (importable without the platform's dependencies).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import unicodedata
from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from functions.common.platform.config import get_settings
from functions.common.security.keys import (  # noqa: F401  (re-exported: the one place callers import from)
    CryptoError,
    Envelope,
    KeyProvider,
    LocalKeyProvider,
    WrappedKey,
    open_with_key,
    seal_with_key,
    write_secret_file,
)

PLATFORM_KEYS = "platform"  # the platform's key-encryption keys and its wrapped index key, under KEY_DIR
INDEX_KEY_FILE = "index.key.sealed"
_INDEX_KEY_AAD = b"medcloudcare/index-key"


class KeyLayoutError(RuntimeError):
    """The key directory has a layout this version does not read (a development build's, from before issue 10)."""


def provider_for(key_dir: Path) -> KeyProvider:
    """The platform's key provider: KEKs under KEY_DIR/platform/kek (Orthanc has its own, elsewhere), or the
    Cloud KMS key of MCC_KMS_KEY_NAME when MCC_KEY_PROVIDER=cloudkms."""
    settings = get_settings()
    if settings.key_provider == "cloudkms":
        from functions.common.security.kms import CloudKmsKeyProvider  # google-auth: only where KMS is used

        return CloudKmsKeyProvider.from_environment(str(settings.kms_key_name), endpoint=settings.kms_endpoint)
    for legacy in ("kek", "index.key"):
        if (key_dir / legacy).exists():
            raise KeyLayoutError(
                f"{key_dir / legacy} is from an earlier development build, which kept one key-encryption key for "
                "the platform and Orthanc and an unwrapped index key; this version keeps separate keys per process. "
                "Start from a fresh state directory (./local-dev/down, then remove the state directory).")
    return LocalKeyProvider(key_dir / PLATFORM_KEYS)


@functools.cache
def _envelope_for(key_dir: Path) -> Envelope:
    return Envelope(provider_for(key_dir))


def envelope() -> Envelope:
    """The process-wide envelope of the configured key provider."""
    return _envelope_for(get_settings().keys_path)


@functools.cache
def _index_key(key_dir: Path) -> bytes:
    """The root of every keyed hash, stored sealed by the platform KEK (a copy of the file alone reveals nothing)."""
    path = key_dir / PLATFORM_KEYS / INDEX_KEY_FILE
    env = _envelope_for(key_dir)
    if not path.exists():
        write_secret_file(path, env.seal(secrets.token_bytes(32), aad=_INDEX_KEY_AAD))
    return env.open(path.read_bytes(), aad=_INDEX_KEY_AAD)


def provision(key_dir: Path) -> None:
    """Create the platform's KEK and index key now (the launcher does, before handing the files to the functions)."""
    _index_key(key_dir)


@functools.cache
def _purpose_key(key_dir: Path, label: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=f"medcloudcare/{label}".encode()).derive(
        _index_key(key_dir))


def purpose_key(label: str) -> bytes:
    """A 256-bit key for one purpose only (e.g. "audit-chain"), derived by HKDF from the platform's index key:
    learning one purpose's key reveals neither the index key nor another purpose's."""
    return _purpose_key(get_settings().keys_path, label)


def keyed_hash(value: str, *, purpose: str) -> str:
    """A keyed HMAC-SHA256 of a value (blind index, throttling keys) under the purpose's own key: equal inputs
    match within one purpose, nothing leaks, and hashes of one purpose say nothing about another's."""
    return hmac.new(purpose_key(f"index/{purpose}"), value.encode(), hashlib.sha256).hexdigest()


def normalise(text: str) -> str:
    """Case- and accent-insensitive form for blind indexes of names."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def token_hash(token: str) -> str:
    """Hash of a high-entropy random token (refresh, email, recovery) for storage."""
    return hashlib.sha256(token.encode()).hexdigest()
