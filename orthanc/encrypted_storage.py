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
        "EncryptedStorageDirectory": "/abs/path/store" # where the sealed files live
    }

Orthanc runs this script on the system Python (Debian's python3-cryptography), not the project
venv; the repository root is put on sys.path so the very same envelope code is used. Without a
valid section the script raises, and Orthanc refuses to start rather than store plaintext.
"""

from __future__ import annotations

import json
import os
import sys
import uuid as uuid_module
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from functions.common.security.keys import CryptoError, Envelope, LocalKeyProvider  # noqa: E402

try:
    import orthanc
except ImportError:  # Imported by tests or tools outside Orthanc.
    orthanc = None

CONFIG_SECTION = "MedCloudCare"


class StorageError(Exception):
    """A stored file is missing or cannot be read; Orthanc turns it into an HTTP error."""


def _check_uuid(value: str) -> str:
    """Return `value` if it is a canonical (lowercase, hyphenated) UUID; it becomes a path."""
    try:
        canonical = str(uuid_module.UUID(value))
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"uuid: {value!r} is not a UUID") from e
    if canonical != value:
        raise ValueError(f"uuid: {value!r} is not a canonical lowercase UUID")
    return value


def _check_content_type(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"content_type: {value!r} is not an Orthanc content type")
    return value


class EncryptedStore:
    """Sealed files under `root`, sharded like Orthanc's own storage (uu/id/uuid)."""

    def __init__(self, root: Path, envelope: Envelope) -> None:
        self.root = Path(root)
        self.envelope = envelope

    def path_of(self, uuid: str) -> Path:
        """Where the file of attachment `uuid` lives (ValueError if `uuid` is not a UUID)."""
        _check_uuid(uuid)
        return self.root / uuid[0:2] / uuid[2:4] / uuid

    @staticmethod
    def aad(uuid: str, content_type: int) -> bytes:
        """Associated data binding a sealed file to its attachment and content type."""
        return f"orthanc-attachment\x00{uuid}\x00{content_type}".encode()

    def create(self, uuid: str, content_type: int, data: bytes) -> None:
        """Seal `data` and write it atomically, readable by its owner only."""
        path = self.path_of(uuid)
        _check_content_type(content_type)
        sealed = self.envelope.seal(bytes(data), aad=self.aad(uuid, content_type))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{uuid}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # Left over by a crash of an earlier Orthanc with our pid.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(sealed)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def read(self, uuid: str, content_type: int) -> bytes:
        """The plaintext of a stored file; CryptoError if it was altered, moved or re-typed."""
        path = self.path_of(uuid)
        _check_content_type(content_type)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError as e:
            raise StorageError(f"attachment {uuid} (type {content_type}) is not stored") from e
        return self.envelope.open(sealed, aad=self.aad(uuid, content_type))

    def remove(self, uuid: str, content_type: int) -> None:
        """Delete a stored file; deleting a missing file is not an error (as in Orthanc)."""
        path = self.path_of(uuid)
        _check_content_type(content_type)
        # Empty shard directories stay: removing them would race with a concurrent create.
        path.unlink(missing_ok=True)


def store_from_configuration(config: Mapping[str, Any]) -> EncryptedStore:
    """The store described by the `MedCloudCare` section of Orthanc's configuration."""
    section = config.get(CONFIG_SECTION)
    if not isinstance(section, Mapping):
        raise ValueError(
            f"Orthanc configuration has no {CONFIG_SECTION!r} section; add "
            f'"{CONFIG_SECTION}": {{"KeyDir": ..., "EncryptedStorageDirectory": ...}}'
        )
    paths = {}
    for key in ("KeyDir", "EncryptedStorageDirectory"):
        value = section.get(key)
        if not isinstance(value, str) or not os.path.isabs(value):
            raise ValueError(f"{CONFIG_SECTION}.{key}: {value!r} must be an absolute path")
        paths[key] = Path(value)
    paths["EncryptedStorageDirectory"].mkdir(parents=True, exist_ok=True, mode=0o700)
    envelope = Envelope(LocalKeyProvider(paths["KeyDir"]))
    return EncryptedStore(paths["EncryptedStorageDirectory"], envelope)


def _register(store: EncryptedStore) -> None:
    """Hand the store's operations to Orthanc, logging failures without any file content."""

    def create(uuid: str, content_type: int, data: bytes) -> None:
        try:
            store.create(uuid, content_type, data)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot write {uuid!r} (type {content_type}): {e}")
            raise

    def read(uuid: str, content_type: int) -> bytes:
        try:
            return store.read(uuid, content_type)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot read {uuid!r} (type {content_type}): {e}")
            raise

    def remove(uuid: str, content_type: int) -> None:
        try:
            store.remove(uuid, content_type)
        except Exception as e:
            orthanc.LogError(f"encrypted storage: cannot remove {uuid!r} (type {content_type}): {e}")
            raise

    orthanc.RegisterStorageArea(create, read, remove)
    orthanc.LogInfo(f"encrypted storage: files are sealed under {store.root}")


# Under pytest the repository's own `orthanc/` folder imports as a namespace package, so the
# ImportError guard alone cannot tell; only the real module has RegisterStorageArea.
if hasattr(orthanc, "RegisterStorageArea"):
    _register(store_from_configuration(json.loads(orthanc.GetConfiguration())))

__all__ = ["CryptoError", "EncryptedStore", "StorageError", "store_from_configuration"]
