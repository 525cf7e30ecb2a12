"""The Cloud KMS key provider against a local stand-in of Cloud KMS's v1 REST API (tests/support/cloud_kms_standin.py:
same paths, bodies and Google JSON errors, keys in memory), with a fixed bearer token as the credential."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials
from mcc_local.procs import free_port

from functions.common.platform.config import ConfigError, get_settings, reset_settings
from functions.common.security import crypto
from functions.common.security.keys import CryptoError, Envelope
from functions.common.security.kms import CloudKmsKeyProvider, KmsError
from tests.support.cloud_kms_standin import CloudKmsStandIn

KEY = "projects/mcc-test/locations/europe-west1/keyRings/mcc/cryptoKeys/platform-kek"
OTHER_KEY = "projects/mcc-test/locations/europe-west1/keyRings/mcc/cryptoKeys/orthanc-kek"
TOKEN = "ya29.fixed-test-token-" + os.urandom(6).hex()


@pytest.fixture(scope="module")
def kms() -> Iterator[CloudKmsStandIn]:
    with CloudKmsStandIn() as standin:
        standin.create_key(KEY, grant=[TOKEN])
        standin.create_key(OTHER_KEY, grant=[TOKEN])
        yield standin


def session(token: str = TOKEN) -> AuthorizedSession:
    return AuthorizedSession(Credentials(token=token))


@pytest.fixture
def provider(kms: CloudKmsStandIn) -> CloudKmsKeyProvider:
    return CloudKmsKeyProvider(KEY, session=session(), endpoint=kms.url)


def rotate(kms: CloudKmsStandIn, key: str) -> str:
    """What KMS's rotation schedule (or an operator) does: a new version, made primary."""
    created = session().post(f"{kms.url}/v1/{key}/cryptoKeyVersions", json={}, timeout=10).json()
    number = created["name"].rsplit("/", 1)[1]
    answer = session().post(f"{kms.url}/v1/{key}:updatePrimaryVersion", json={"cryptoKeyVersionId": number},
                            timeout=10)
    assert answer.status_code == 200, answer.text
    return created["name"]


def secrets_of(data_key: bytes) -> list[str]:
    return [TOKEN, data_key.hex(), base64.b64encode(data_key).decode()]


def test_a_data_key_wraps_under_the_primary_version_and_unwraps(provider: CloudKmsKeyProvider) -> None:
    data_key = os.urandom(32)
    kek_id, wrapped = provider.wrap(data_key, aad=b"study-1")
    assert kek_id == provider.current_kek_id() and kek_id.startswith(f"{KEY}/cryptoKeyVersions/")
    assert data_key not in wrapped
    assert provider.unwrap(kek_id, wrapped, aad=b"study-1") == data_key


def test_a_wrapped_key_with_other_associated_data_is_refused(provider: CloudKmsKeyProvider) -> None:
    kek_id, wrapped = provider.wrap(os.urandom(32), aad=b"study-1")
    with pytest.raises(CryptoError, match="does not unwrap"):
        provider.unwrap(kek_id, wrapped, aad=b"study-2")
    with pytest.raises(CryptoError, match="does not unwrap"):
        provider.unwrap(kek_id, wrapped[:-1] + bytes([wrapped[-1] ^ 1]), aad=b"study-1")


def test_a_key_wrapped_by_another_kms_key_is_refused_before_any_call(
    kms: CloudKmsStandIn, provider: CloudKmsKeyProvider
) -> None:
    other = CloudKmsKeyProvider(OTHER_KEY, session=session(), endpoint=kms.url)
    kek_id, wrapped = other.wrap(os.urandom(32))
    calls = kms.requests
    with pytest.raises(CryptoError, match="another key-encryption key"):
        provider.unwrap(kek_id, wrapped)
    assert kms.requests == calls


def test_after_rotation_new_keys_use_the_new_version_and_old_ones_still_unwrap(
    kms: CloudKmsStandIn, provider: CloudKmsKeyProvider
) -> None:
    old_key = os.urandom(32)
    old_id, old_wrapped = provider.wrap(old_key)
    new_version = rotate(kms, KEY)
    assert provider.current_kek_id() == new_version != old_id
    new_id, _ = provider.wrap(os.urandom(32))
    assert new_id == new_version
    assert provider.unwrap(old_id, old_wrapped) == old_key


def test_the_envelope_seals_and_opens_unchanged_on_kms(kms: CloudKmsStandIn, provider: CloudKmsKeyProvider) -> None:
    envelope = Envelope(provider)
    blob = envelope.seal(b"pixel data", aad=b"orthanc-attachment")
    assert Envelope.kek_id_of(blob) == provider.current_kek_id()
    assert envelope.open(blob, aad=b"orthanc-attachment") == b"pixel data"
    with pytest.raises(CryptoError):
        envelope.open(blob, aad=b"another attachment")
    key, wrapped = envelope.new_data_key(aad=b"study-9")
    rotate(kms, KEY)
    assert envelope.unwrap(wrapped, aad=b"study-9") == key
    assert envelope.open(blob, aad=b"orthanc-attachment") == b"pixel data"


def test_an_unreachable_api_is_a_clear_error_without_secrets() -> None:
    data_key = os.urandom(32)
    provider = CloudKmsKeyProvider(KEY, session=session(), endpoint=f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(KmsError, match="unreachable") as caught:
        provider.wrap(data_key)
    assert caught.value.status is None and caught.value.__cause__ is None
    assert not [s for s in secrets_of(data_key) if s in str(caught.value)]


def test_a_token_without_the_permission_is_told_which_role_to_grant(kms: CloudKmsStandIn) -> None:
    kms.create_key(KEY + "-revoked", grant=[TOKEN])
    kms.revoke(KEY + "-revoked", TOKEN)
    data_key = os.urandom(32)
    with pytest.raises(KmsError, match="roles/cloudkms.cryptoKeyEncrypterDecrypter") as caught:
        CloudKmsKeyProvider(KEY + "-revoked", session=session(), endpoint=kms.url).wrap(data_key)
    assert (caught.value.status, caught.value.code) == (403, "PERMISSION_DENIED")
    assert not [s for s in secrets_of(data_key) if s in str(caught.value)]


def test_a_missing_key_names_the_setting_to_fix(kms: CloudKmsStandIn) -> None:
    missing = CloudKmsKeyProvider(KEY + "-missing", session=session(), endpoint=kms.url)
    with pytest.raises(KmsError, match="MCC_KMS_KEY_NAME") as caught:
        missing.current_kek_id()
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")
    assert TOKEN not in str(caught.value)


def test_a_malformed_key_name_is_refused_naming_the_argument(kms: CloudKmsStandIn) -> None:
    with pytest.raises(ValueError, match="key_name.*cryptoKeys"):
        CloudKmsKeyProvider("platform-kek", session=session(), endpoint=kms.url)


@pytest.fixture
def kms_environment(kms: CloudKmsStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MCC_KEY_PROVIDER=cloudkms with Application Default Credentials from a service-account key file whose token
    endpoint is the stand-in's (in GKE, ADC finds Workload Identity's metadata server instead)."""
    adc = kms.write_credentials_file(tmp_path / "adc.json", email="mcc-functions@mcc-test.iam.gserviceaccount.com",
                                     access_token=TOKEN)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("MCC_KEY_PROVIDER", "cloudkms")
    monkeypatch.setenv("MCC_KMS_KEY_NAME", KEY)
    monkeypatch.setenv("MCC_KMS_ENDPOINT", kms.url)
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def test_configuration_selects_cloud_kms_with_application_default_credentials(
    kms_environment: None, tmp_path: Path
) -> None:
    provider = crypto.provider_for(tmp_path / "keys")
    assert isinstance(provider, CloudKmsKeyProvider)
    envelope = Envelope(provider)
    assert envelope.open(envelope.seal(b"record", aad=b"a"), aad=b"a") == b"record"
    assert not (tmp_path / "keys").exists()  # no key material on the pod


def test_cloud_kms_without_a_key_name_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCC_KEY_PROVIDER", "cloudkms")
    monkeypatch.delenv("MCC_KMS_KEY_NAME", raising=False)
    reset_settings()
    try:
        with pytest.raises(ConfigError, match="MCC_KMS_KEY_NAME is required"):
            get_settings()
    finally:
        monkeypatch.undo()
        reset_settings()
