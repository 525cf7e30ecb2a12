"""The platform's key hierarchy: the index key stored wrapped, one HKDF key per purpose, study keys bound to
their study, and no reading of the single-key layout of earlier development builds."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from types import SimpleNamespace

import pytest

from functions.common.dicom import originals
from functions.common.platform.config import reset_settings
from functions.common.security import crypto
from functions.common.security.keys import MAGIC, CryptoError


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCC_KEY_DIR", str(tmp_path / "keys"))
    reset_settings()
    yield tmp_path / "keys"
    reset_settings()


def test_the_index_key_is_stored_sealed_by_the_platform_kek(key_dir: Path):
    crypto.provision(key_dir)
    stored = (key_dir / "platform" / crypto.INDEX_KEY_FILE).read_bytes()
    assert stored.startswith(MAGIC) and len(stored) > 32 + 28  # a sealed blob, not the 32 raw bytes
    index_key = crypto._index_key(key_dir)
    assert index_key not in stored
    # Without the platform's KEK the file is useless: a copy of it and another KEK open nothing.
    other = crypto.Envelope(crypto.LocalKeyProvider(key_dir.parent / "elsewhere"))
    with pytest.raises(CryptoError):
        other.open(stored, aad=b"medcloudcare/index-key")


def test_each_purpose_hashes_under_its_own_derived_key(key_dir: Path):
    a = crypto.keyed_hash("PAT-001", purpose="patient-id")
    assert a == crypto.keyed_hash("PAT-001", purpose="patient-id")  # a blind index: equal inputs match
    assert a != crypto.keyed_hash("PAT-001", purpose="pseudonym-uid")  # purposes do not correlate
    # The hash is an HMAC under the purpose's HKDF key, never under the index key itself.
    derived = crypto.purpose_key("index/patient-id")
    assert a == hmac.new(derived, b"PAT-001", hashlib.sha256).hexdigest()
    assert derived != crypto._index_key(key_dir)
    index_key = crypto._index_key(key_dir)
    assert a != hmac.new(index_key, b"patient-id\x00PAT-001", hashlib.sha256).hexdigest()
    assert crypto.purpose_key("audit-chain") not in (derived, index_key)


def test_a_study_key_opens_only_for_its_own_study(key_dir: Path):
    key, wrapped = originals.new_study_key("1.2.826.0.1.3680043.8.498.1")
    row = SimpleNamespace(study_uid="1.2.826.0.1.3680043.8.498.1", key_kek_id=wrapped.kek_id,
                          key_wrapped=wrapped.wrapped)
    assert originals.study_key(row) == key
    # The wrapped key copied onto another study's row (an attacker with write access to the index) opens nothing.
    moved = SimpleNamespace(study_uid="1.2.826.0.1.3680043.8.498.2", key_kek_id=wrapped.kek_id,
                            key_wrapped=wrapped.wrapped)
    with pytest.raises(CryptoError):
        originals.study_key(moved)


@pytest.mark.parametrize("legacy", ["kek", "index.key"])
def test_a_key_directory_of_the_single_key_layout_is_refused_with_a_reason(key_dir: Path, legacy: str):
    key_dir.mkdir(parents=True)
    if legacy == "kek":
        (key_dir / legacy).mkdir()
    else:
        (key_dir / legacy).write_bytes(bytes(32))
    with pytest.raises(crypto.KeyLayoutError, match="earlier development build"):
        crypto.provider_for(key_dir)
