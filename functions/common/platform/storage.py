"""Object storage for bundles and certificates: a local directory, or any S3 API (boto3)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Protocol

from functions.common.platform.config import get_settings


class ObjectStore(Protocol):
    def put(self, data: bytes, *, prefix: str) -> str: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def _content_key(data: bytes, prefix: str) -> str:
    return f"{prefix}/{hashlib.sha256(data).hexdigest()}"


class LocalStore:
    """Content-addressed files under one directory, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("object key escapes the store")
        return path

    def put(self, data: bytes, *, prefix: str) -> str:
        key = _content_key(data, prefix)
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        return key

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """The same contract over an S3 API (MinIO, GCS interoperability)."""

    def __init__(self, bucket: str, endpoint_url: str | None) -> None:
        import boto3

        self.bucket = bucket
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def put(self, data: bytes, *, prefix: str) -> str:
        key = _content_key(data, prefix)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


@functools.cache
def _store(backend: str, root: Path, bucket: str | None, endpoint: str | None) -> ObjectStore:
    if backend == "s3":
        if not bucket:
            raise ValueError("MCC_S3_BUCKET is required when MCC_STORAGE_BACKEND=s3")
        return S3Store(bucket, endpoint)
    return LocalStore(root)


def store() -> ObjectStore:
    s = get_settings()
    return _store(s.storage_backend, s.objects_path, s.s3_bucket, s.s3_endpoint_url)
