"""Envelope encryption with no dependency beyond `cryptography`, so Orthanc's storage plugin (on
Debian's system Python) uses the very same code as the functions.

AES-256-GCM data keys are wrapped by a key-encryption key (KEK) from a key provider. A sealed blob
names the KEK that wrapped its data key, so a new KEK can become current while old blobs stay
readable (rotation without downtime).
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MCE1"
NONCE_BYTES = 12


class CryptoError(Exception):
    """A blob could not be decrypted: wrong key, tampered data, or not a sealed blob."""


class KeyProvider(Protocol):
    """Wraps and unwraps data keys with a key-encryption key the caller never sees."""

    def current_kek_id(self) -> str: ...

    def wrap(self, data_key: bytes, *, aad: bytes = b"") -> tuple[str, bytes]: ...

    def unwrap(self, kek_id: str, wrapped: bytes, *, aad: bytes = b"") -> bytes: ...


def write_secret_file(path: Path, data: bytes) -> None:
    """Create a file readable only by its owner, atomically, refusing to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first; theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


class LocalKeyProvider:
    """KEKs as 0600 files under KEY_DIR/kek/, the current one named by KEY_DIR/kek/current."""

    def __init__(self, key_dir: Path) -> None:
        self.dir = key_dir / "kek"
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        if not (self.dir / "current").exists():
            self.rotate()

    def rotate(self) -> str:
        """Create a new KEK and make it current; older KEKs stay for unwrapping."""
        kek_id = "local-" + secrets.token_hex(6)
        write_secret_file(self.dir / f"{kek_id}.key", AESGCM.generate_key(bit_length=256))
        tmp = self.dir / f".current.{os.getpid()}"
        tmp.write_text(kek_id)
        os.replace(tmp, self.dir / "current")
        return kek_id

    def current_kek_id(self) -> str:
        return (self.dir / "current").read_text().strip()

    def _kek(self, kek_id: str) -> bytes:
        with self._lock:
            if kek_id not in self._keys:
                if not kek_id.replace("-", "").isalnum():
                    raise CryptoError("malformed key id")
                try:
                    self._keys[kek_id] = (self.dir / f"{kek_id}.key").read_bytes()
                except FileNotFoundError as e:
                    raise CryptoError(f"unknown key-encryption key {kek_id}") from e
            return self._keys[kek_id]

    def wrap(self, data_key: bytes, *, aad: bytes = b"") -> tuple[str, bytes]:
        kek_id = self.current_kek_id()
        nonce = os.urandom(NONCE_BYTES)
        return kek_id, nonce + AESGCM(self._kek(kek_id)).encrypt(nonce, data_key, aad)

    def unwrap(self, kek_id: str, wrapped: bytes, *, aad: bytes = b"") -> bytes:
        try:
            return AESGCM(self._kek(kek_id)).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except InvalidTag as e:
            raise CryptoError("data key does not unwrap under its key-encryption key") from e


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: which KEK wrapped it and the wrapped bytes."""

    kek_id: str
    wrapped: bytes


class Envelope:
    """Seal and open blobs; each blob carries its own wrapped data key."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider

    def new_data_key(self, *, aad: bytes = b"") -> tuple[bytes, WrappedKey]:
        """A fresh data key and its wrapped form, bound to `aad` (e.g. the study it belongs to)."""
        key = AESGCM.generate_key(bit_length=256)
        kek_id, wrapped = self.provider.wrap(key, aad=aad)
        return key, WrappedKey(kek_id, wrapped)

    def unwrap(self, wk: WrappedKey, *, aad: bytes = b"") -> bytes:
        """The data key `new_data_key` wrapped with the same `aad`; a wrapped key moved elsewhere does not open."""
        return self.provider.unwrap(wk.kek_id, wk.wrapped, aad=aad)

    def seal(self, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        """Encrypt under a fresh data key: MAGIC | kek id | wrapped key | nonce | ciphertext+tag."""
        key, wk = self.new_data_key()
        kid = wk.kek_id.encode()
        nonce = os.urandom(NONCE_BYTES)
        header = MAGIC + struct.pack(">BH", len(kid), len(wk.wrapped)) + kid + wk.wrapped
        return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)

    def open(self, blob: bytes, *, aad: bytes = b"") -> bytes:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 3:
            raise CryptoError("not a sealed blob")
        kid_len, wrapped_len = struct.unpack(">BH", blob[4:7])
        pos = 7 + kid_len + wrapped_len
        header = blob[:pos]
        kid = blob[7 : 7 + kid_len].decode()
        key = self.provider.unwrap(kid, blob[7 + kid_len : pos])
        nonce = blob[pos : pos + NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(nonce, blob[pos + NONCE_BYTES :], header + aad)
        except InvalidTag as e:
            raise CryptoError("blob was tampered with or belongs elsewhere") from e

    @staticmethod
    def kek_id_of(blob: bytes) -> str:
        """Which KEK a blob needs (to find blobs to re-wrap after rotation)."""
        kid_len = blob[4]
        return blob[7 : 7 + kid_len].decode()


def seal_with_key(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """Encrypt under a data key the caller holds (e.g. a study's key): nonce | ciphertext+tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_with_key(key: bytes, blob: bytes, *, aad: bytes = b"") -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as e:
        raise CryptoError("value was tampered with or belongs elsewhere") from e
