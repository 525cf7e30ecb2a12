"""Where the encrypting storage plugin keeps its sealed files: a local directory (the default) or an S3 bucket.

Both hold exactly the bytes `encrypted_storage.EncryptedStore` sealed, under the same sharded name (uu/id/uuid),
so an archive can move between them by copying files. The S3 backend makes archive pods stateless: with Orthanc's
index in PostgreSQL, a new pod with an empty disk serves everything the old one stored (docs/stateless-archive.md).

Imported by the Orthanc plugin on Debian's system Python: only the standard library here, boto3 (python3-boto3)
imported when the S3 backend is configured.
"""

from __future__ import annotations

import os
import re
import uuid as uuid_module
from pathlib import Path
from typing import Any, Protocol

# Connection failures are retried a little, then reported: Orthanc answers its client instead of hanging.
S3_CONNECT_TIMEOUT = 5
S3_READ_TIMEOUT = 60
S3_MAX_ATTEMPTS = 3
_PREFIX = re.compile(r"(?:[A-Za-z0-9._-]+/)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]")


class StorageError(Exception):
    """A stored file is missing or cannot be read or written; Orthanc turns it into an HTTP error."""


def check_uuid(value: str) -> str:
    """Return `value` if it is a canonical (lowercase, hyphenated) UUID; it becomes a path or object key."""
    try:
        canonical = str(uuid_module.UUID(value))
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"uuid: {value!r} is not a UUID") from e
    if canonical != value:
        raise ValueError(f"uuid: {value!r} is not a canonical lowercase UUID")
    return value


def shard(uuid: str) -> str:
    """The relative name of attachment `uuid`, sharded like Orthanc's own storage (uu/id/uuid)."""
    check_uuid(uuid)
    return f"{uuid[0:2]}/{uuid[2:4]}/{uuid}"


class SealedFiles(Protocol):
    """Sealed bytes by attachment uuid; knows nothing of keys or plaintext."""

    def write(self, uuid: str, sealed: bytes) -> None: ...

    def read(self, uuid: str) -> bytes: ...

    def delete(self, uuid: str) -> None: ...

    def describe(self) -> str: ...


class LocalFiles:
    """Sealed files under `root`, each written atomically and readable by its owner only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, uuid: str) -> Path:
        """Where the file of attachment `uuid` lives (ValueError if `uuid` is not a UUID)."""
        return self.root / shard(uuid)

    def write(self, uuid: str, sealed: bytes) -> None:
        path = self.path_of(uuid)
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

    def read(self, uuid: str) -> bytes:
        try:
            return self.path_of(uuid).read_bytes()
        except FileNotFoundError as e:
            raise StorageError("the attachment is not stored") from e

    def delete(self, uuid: str) -> None:
        # Empty shard directories stay: removing them would race with a concurrent create.
        self.path_of(uuid).unlink(missing_ok=True)

    def describe(self) -> str:
        return f"directory {self.root}"


class S3Files:
    """Sealed files as objects PREFIX/uu/id/uuid of one bucket, through any S3 API (GCS interoperability, MinIO).

    Credentials come from boto3's usual chain (environment, shared files, instance metadata), never from Orthanc's
    configuration. Failures become StorageError naming the operation and the S3 error code only: no bucket, key,
    endpoint URL or credential reaches Orthanc's log."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"bucket: {bucket!r} is not an S3 bucket name")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if not _PREFIX.fullmatch(prefix) or {".", ".."} & set(prefix.split("/")):
            raise ValueError(f"prefix: {prefix!r} must be path segments of letters, digits, '.', '_', '-'")
        self.bucket = bucket
        self.prefix = prefix
        self.client = client if client is not None else _s3_client(endpoint_url, region)

    def key_of(self, uuid: str) -> str:
        """The object key of attachment `uuid`."""
        return self.prefix + shard(uuid)

    def write(self, uuid: str, sealed: bytes) -> None:
        # A PUT is atomic: the object appears whole or not at all, so a failed write leaves nothing behind.
        key = self.key_of(uuid)
        self._call("PutObject", lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(sealed)))

    def read(self, uuid: str) -> bytes:
        key = self.key_of(uuid)
        return self._call("GetObject", lambda: self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def delete(self, uuid: str) -> None:
        key = self.key_of(uuid)  # Deleting a missing object succeeds in S3, as a missing file does in Orthanc.
        self._call("DeleteObject", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def describe(self) -> str:
        return "an S3 bucket"  # Bucket and endpoint stay out of the log.

    @staticmethod
    def _call(operation: str, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "unknown"))
            if operation == "GetObject" and code in ("NoSuchKey", "404"):
                raise StorageError("the attachment is not stored") from None
            # `from None`: botocore's messages carry the bucket, key and endpoint URL.
            raise StorageError(f"object storage refused {operation} ({code})") from None
        except BotoCoreError as e:
            raise StorageError(f"object storage unreachable or misconfigured during {operation} "
                               f"({type(e).__name__})") from None


def _s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 S3 client with bounded timeouts and retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT,
                    retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"})
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
