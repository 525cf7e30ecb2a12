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


def provider_for(key_dir: Path) -> KeyProvider:
    return LocalKeyProvider(key_dir)


@functools.cache
def _envelope_for(key_dir: Path) -> Envelope:
    return Envelope(provider_for(key_dir))


def envelope() -> Envelope:
    """The process-wide envelope of the configured key provider."""
    return _envelope_for(get_settings().keys_path)


@functools.cache
def _index_key(key_dir: Path) -> bytes:
    path = key_dir / "index.key"
    if not path.exists():
        write_secret_file(path, secrets.token_bytes(32))
    return path.read_bytes()


@functools.cache
def _purpose_key(key_dir: Path, label: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=f"medcloudcare/{label}".encode()).derive(
        _index_key(key_dir))


def purpose_key(label: str) -> bytes:
    """A 256-bit key for one purpose only (e.g. "audit-chain"), derived by HKDF from the platform's index key:
    learning one purpose's key reveals neither the index key nor another purpose's."""
    return _purpose_key(get_settings().keys_path, label)


def keyed_hash(value: str, *, purpose: str) -> str:
    """A keyed HMAC-SHA256 of a value (blind index, throttling keys): equal inputs match, nothing leaks."""
    key = _index_key(get_settings().keys_path)
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def normalise(text: str) -> str:
    """Case- and accent-insensitive form for blind indexes of names."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def token_hash(token: str) -> str:
    """Hash of a high-entropy random token (refresh, email, recovery) for storage."""
    return hashlib.sha256(token.encode()).hexdigest()
