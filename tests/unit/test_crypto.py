"""Envelope encryption: AES-256-GCM data keys wrapped by a rotating key-encryption key."""

import os
import stat

import pytest

from functions.common.security.crypto import CryptoError, Envelope, LocalKeyProvider, normalise


@pytest.fixture
def envelope(tmp_path):
    return Envelope(LocalKeyProvider(tmp_path / "keys"))


def test_sealed_blob_opens_to_the_plaintext_and_hides_it(envelope):
    secret = b"PATIENT^JANE 1970-01-01"
    blob = envelope.seal(secret, aad=b"ctx")
    assert secret not in blob
    assert envelope.open(blob, aad=b"ctx") == secret


def test_each_seal_uses_a_fresh_data_key_and_nonce(envelope):
    assert envelope.seal(b"same") != envelope.seal(b"same")


def test_tampered_blob_is_refused(envelope):
    blob = bytearray(envelope.seal(b"x" * 64))
    blob[-5] ^= 1
    with pytest.raises(CryptoError):
        envelope.open(bytes(blob))


def test_blob_bound_to_its_context_cannot_be_moved(envelope):
    blob = envelope.seal(b"totp secret", aad=b"user-1")
    with pytest.raises(CryptoError):
        envelope.open(blob, aad=b"user-2")


def test_not_a_blob_is_refused(envelope):
    with pytest.raises(CryptoError):
        envelope.open(b"plain text")


def test_rotation_keeps_old_blobs_readable_and_seals_new_ones_under_the_new_key(tmp_path):
    provider = LocalKeyProvider(tmp_path / "keys")
    env = Envelope(provider)
    old_blob = env.seal(b"before rotation")
    old_kek = Envelope.kek_id_of(old_blob)
    new_kek = provider.rotate()
    new_blob = env.seal(b"after rotation")
    assert Envelope.kek_id_of(new_blob) == new_kek != old_kek
    assert env.open(old_blob) == b"before rotation"
    assert env.open(new_blob) == b"after rotation"


def test_key_files_are_private(tmp_path):
    provider = LocalKeyProvider(tmp_path / "keys")
    key_file = tmp_path / "keys" / "kek" / f"{provider.current_kek_id()}.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32


def test_a_missing_kek_is_a_clear_error(tmp_path):
    env = Envelope(LocalKeyProvider(tmp_path / "a"))
    blob = env.seal(b"data")
    with pytest.raises(CryptoError, match="unknown key-encryption key"):
        Envelope(LocalKeyProvider(tmp_path / "b")).open(blob)


def test_normalise_folds_case_and_accents():
    assert normalise("  Müller-Éric ") == normalise("muller-eric")
