"""The platform's DICOM archive: Orthanc whose storage area encrypts every file at rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .orthanc import OrthancServer, PostgresIndex
from .procs import ProcessGroup
from .users import RunAs

STORAGE_PLUGIN = Path(__file__).resolve().parents[2] / "orthanc" / "encrypted_storage.py"


@dataclass(frozen=True)
class S3Bucket:
    """Where the sealed files go instead of a local directory: a bucket reached through the S3 API (GCS
    interoperability, MinIO). Credentials are not here: Orthanc's environment or instance metadata gives them."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None

    def config(self) -> dict[str, Any]:
        """The plugin's `MedCloudCare.S3` settings."""
        settings = {"Bucket": self.bucket, "Prefix": self.prefix, "EndpointUrl": self.endpoint_url,
                    "Region": self.region}
        return {key: value for key, value in settings.items() if value}


@dataclass(frozen=True)
class KmsKey:
    """Orthanc's KEK in Cloud KMS instead of files in a key directory; the token comes from Application Default
    Credentials in Orthanc's environment (Workload Identity in GKE)."""

    key_name: str
    endpoint: str = "https://cloudkms.googleapis.com"

    def config(self) -> dict[str, Any]:
        """The plugin's key-provider settings."""
        return {"KeyProvider": "cloudkms", "KmsKeyName": self.key_name, "KmsEndpoint": self.endpoint}


def encrypted_orthanc(
    directory: Path,
    *,
    port: int,
    key_dir: Path | None = None,
    kms: KmsKey | None = None,
    processes: ProcessGroup | None = None,
    run_as: RunAs | None = None,
    index: PostgresIndex | None = None,
    bucket: S3Bucket | None = None,
    environment: Mapping[str, str] | None = None,
) -> OrthancServer:
    """Orthanc in `directory` storing DICOM files only as files sealed with the KEKs of `key_dir` (Orthanc's own:
    as `run_as`, it creates its KEK there on first start, and no other process of the platform may read it) or of
    the Cloud KMS key `kms` (exactly one of the two).

    By default the index is SQLite and the sealed files a directory, both under `directory`; with `index`,
    `bucket` and `kms` nothing is: the archive is stateless (docs/stateless-archive.md). `environment` reaches
    Orthanc's process only (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for the bucket)."""
    if (key_dir is None) == (kms is None):
        raise ValueError("key_dir, kms: give exactly one (the key directory, or the Cloud KMS key)")
    directory = Path(directory).absolute()
    section: dict[str, Any] = kms.config() if kms is not None else {"KeyDir": str(Path(key_dir).absolute())}
    if bucket is not None:
        section.update({"StorageBackend": "s3", "S3": bucket.config()})
    else:
        # Orthanc keeps its index under data/ and still creates StorageDirectory, but with a
        # storage-area plugin registered it writes no attachment there.
        section["EncryptedStorageDirectory"] = str(directory / "data" / "encrypted")
    return OrthancServer(
        directory,
        port=port,
        python_script=STORAGE_PLUGIN,
        processes=processes,
        run_as=run_as,
        private_dirs=[key_dir] if key_dir is not None else [],
        extra_config={"MedCloudCare": section},
        index=index,
        environment=environment,
    )
