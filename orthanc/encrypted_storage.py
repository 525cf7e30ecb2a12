"""Orthanc storage area that encrypts every file at rest: an orthanc-python plugin script.

Orthanc hands each attachment (DICOM file, cached JSON, ...) to this plugin instead of writing it
to its StorageDirectory. The plugin seals it with the platform's envelope encryption
(functions/common/security/keys.py: AES-256-GCM under a fresh data key and nonce per file, the data key
wrapped by the key provider's current KEK, whose id is in the file's header) and opens it again
on read, so indexing, DICOMweb, rendering and deletion work unchanged on top. The file's uuid and
content type are the associated data: a file moved to another name or type does not open.

Configured by a section of Orthanc's JSON configuration (PythonScript names this file):

    "MedCloudCare": {
        "KeyDir": "/abs/path/keys",                    # the platform's key directory (kek/...)
        "EncryptedStorageDirectory": "/abs/path/store" # where the sealed files live (the default backend)
    }

or, for stateless archive pods, the KEK in Cloud KMS (functions/common/security/kms.py; token from
Application Default Credentials: Workload Identity in GKE) and the sealed files in an S3 bucket
(storage_backends.py; credentials from the environment or instance metadata, never from this file):

    "MedCloudCare": {
        "KeyProvider": "cloudkms",
        "KmsKeyName": "projects/P/locations/L/keyRings/R/cryptoKeys/K",
        "StorageBackend": "s3",
        "S3": {"Bucket": "mcc-archive", "Prefix": "orthanc/", "EndpointUrl": "https://...", "Region": "auto"}
    }

Orthanc runs this script on the system Python (Debian's python3-cryptography, python3-boto3,
python3-google-auth), not the project venv; the repository root is put on sys.path so the very same envelope code is used. Without a
valid section the script raises, and Orthanc refuses to start rather than store plaintext.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The sibling module by its own name: inside Orthanc, `orthanc` is the plugin's module, not this folder.
sys.path.append(str(Path(__file__).resolve().parent))

from storage_backends import LocalFiles, S3Files, SealedFiles, StorageError, check_uuid  # noqa: E402

from functions.common.security.keys import CryptoError, Envelope, KeyProvider, LocalKeyProvider  # noqa: E402

try:
    import orthanc
except ImportError:  # Imported by tests or tools outside Orthanc.
    orthanc = None

CONFIG_SECTION = "MedCloudCare"
S3_SETTINGS = {"Bucket": "bucket", "Prefix": "prefix", "EndpointUrl": "endpoint_url", "Region": "region"}


def _check_content_type(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"content_type: {value!r} is not an Orthanc content type")
    return value


class EncryptedStore:
    """Attachments sealed by `envelope`, kept by `files`: a directory (a path) or any SealedFiles backend."""

    def __init__(self, files: Path | str | SealedFiles, envelope: Envelope) -> None:
        self.files: SealedFiles = LocalFiles(Path(files)) if isinstance(files, (str, Path)) else files
        self.envelope = envelope

    @property
    def root(self) -> Path:
        """The directory of a local store (AttributeError for other backends)."""
        return self.files.root  # type: ignore[attr-defined]

    def path_of(self, uuid: str) -> Path:
        """Where the file of attachment `uuid` lives in a local store (ValueError if `uuid` is not a UUID)."""
        return self.files.path_of(uuid)  # type: ignore[attr-defined]

    @staticmethod
    def aad(uuid: str, content_type: int) -> bytes:
        """Associated data binding a sealed file to its attachment and content type."""
        return f"orthanc-attachment\x00{uuid}\x00{content_type}".encode()

    def create(self, uuid: str, content_type: int, data: bytes) -> None:
        """Seal `data` and write it atomically (the same sealed bytes whichever backend keeps them)."""
        check_uuid(uuid)
        _check_content_type(content_type)
        self.files.write(uuid, self.envelope.seal(bytes(data), aad=self.aad(uuid, content_type)))

    def read(self, uuid: str, content_type: int) -> bytes:
        """The plaintext of a stored file; CryptoError if it was altered, moved or re-typed."""
        check_uuid(uuid)
        _check_content_type(content_type)
        return self.envelope.open(self.files.read(uuid), aad=self.aad(uuid, content_type))

    def remove(self, uuid: str, content_type: int) -> None:
        """Delete a stored file; deleting a missing file is not an error (as in Orthanc)."""
        check_uuid(uuid)
        _check_content_type(content_type)
        self.files.delete(uuid)


def _absolute_path(section: Mapping[str, Any], key: str) -> Path:
    value = section.get(key)
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ValueError(f"{CONFIG_SECTION}.{key}: {value!r} must be an absolute path")
    return Path(value)


def _s3_files(section: Mapping[str, Any]) -> S3Files:
    """The S3 backend of `MedCloudCare.S3`, refusing anything but where the bucket is (no credentials)."""
    s3 = section.get("S3")
    if not isinstance(s3, Mapping) or not isinstance(s3.get("Bucket"), str):
        raise ValueError(f'{CONFIG_SECTION}.S3: must be {{"Bucket": ..., "Prefix": ..., "EndpointUrl": ..., '
                         '"Region": ...}} when StorageBackend is "s3"')
    unknown = sorted(set(s3) - set(S3_SETTINGS))
    if unknown:
        raise ValueError(f"{CONFIG_SECTION}.S3.{unknown[0]}: not a setting ({', '.join(S3_SETTINGS)}); credentials "
                         "come from the environment (AWS_ACCESS_KEY_ID, ...) or instance metadata, never this file")
    for key in ("Prefix", "EndpointUrl", "Region"):
        if s3.get(key) is not None and not isinstance(s3[key], str):
            raise ValueError(f"{CONFIG_SECTION}.S3.{key}: {s3[key]!r} must be a string")
    try:
        return S3Files(**{arg: s3[key] for key, arg in S3_SETTINGS.items() if s3.get(key)})
    except ValueError as e:
        raise ValueError(f"{CONFIG_SECTION}.S3: {e}") from e


def _key_provider(section: Mapping[str, Any]) -> KeyProvider:
    """Local KEK files under KeyDir, or a Cloud KMS key checked by a wrap/unwrap round trip: a pod that cannot
    use its key does not start, rather than fail on every file."""
    provider = section.get("KeyProvider", "local")
    if provider == "local":
        return LocalKeyProvider(_absolute_path(section, "KeyDir"))
    if provider != "cloudkms":
        raise ValueError(f'{CONFIG_SECTION}.KeyProvider: {provider!r} must be "local" or "cloudkms"')
    from functions.common.security.kms import DEFAULT_ENDPOINT, CloudKmsKeyProvider  # python3-google-auth

    key_name, endpoint = section.get("KmsKeyName"), section.get("KmsEndpoint", DEFAULT_ENDPOINT)
    if not isinstance(key_name, str) or not isinstance(endpoint, str):
        raise ValueError(f"{CONFIG_SECTION}.KmsKeyName: must name the crypto key when KeyProvider is cloudkms")
    kms = CloudKmsKeyProvider.from_environment(key_name, endpoint=endpoint)
    probe = os.urandom(32)
    if kms.unwrap(*kms.wrap(probe, aad=b"orthanc-start"), aad=b"orthanc-start") != probe:
        raise CryptoError("Cloud KMS did not give back the probe data key")
    return kms


def store_from_configuration(config: Mapping[str, Any]) -> EncryptedStore:
    """The store described by the `MedCloudCare` section of Orthanc's configuration."""
    section = config.get(CONFIG_SECTION)
    if not isinstance(section, Mapping):
        raise ValueError(
            f"Orthanc configuration has no {CONFIG_SECTION!r} section; add "
            f'"{CONFIG_SECTION}": {{"KeyDir": ..., "EncryptedStorageDirectory": ...}}'
        )
    backend = section.get("StorageBackend", "local")
    if backend == "s3":
        files: SealedFiles = _s3_files(section)
    elif backend == "local":
        directory = _absolute_path(section, "EncryptedStorageDirectory")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = LocalFiles(directory)
    else:
        raise ValueError(f'{CONFIG_SECTION}.StorageBackend: {backend!r} must be "local" or "s3"')
    return EncryptedStore(files, Envelope(_key_provider(section)))


def _register(store: EncryptedStore) -> None:
    """Hand the store's operations to Orthanc, logging failures without file content or identifiers."""

    def create(uuid: str, content_type: int, data: bytes) -> None:
        try:
            store.create(uuid, content_type, data)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot write an attachment (type {content_type}): {e}")
            raise

    def read(uuid: str, content_type: int) -> bytes:
        try:
            return store.read(uuid, content_type)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot read an attachment (type {content_type}): {e}")
            raise

    def remove(uuid: str, content_type: int) -> None:
        try:
            store.remove(uuid, content_type)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot remove an attachment (type {content_type}): {e}")
            raise

    orthanc.RegisterStorageArea(create, read, remove)
    orthanc.LogInfo(f"encrypted storage: files are sealed in {store.files.describe()}")


# Under pytest the repository's own `orthanc/` folder imports as a namespace package, so the
# ImportError guard alone cannot tell; only the real module has RegisterStorageArea.
if hasattr(orthanc, "RegisterStorageArea"):
    _register(store_from_configuration(json.loads(orthanc.GetConfiguration())))

# Tools and tests take the backends from here: imported as `orthanc.storage_backends` they would be a second copy
# of the module, with StorageError a different class.
__all__ = ["CryptoError", "EncryptedStore", "LocalFiles", "S3Files", "StorageError", "store_from_configuration"]
