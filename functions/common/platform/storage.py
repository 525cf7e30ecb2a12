"""Object storage for bundles, certificates and audit anchors: a local directory, or any S3 API (boto3).

Most objects are content-addressed (`put`: the key is the SHA-256 of the bytes); a few are named by
their writer (`put_at`, e.g. audit anchors by row id) and found again by prefix (`keys`)."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from pathlib import Path
from typing import Protocol

from functions.common.platform.config import get_settings


class ObjectStore(Protocol):
    def put(self, data: bytes, *, prefix: str) -> str: ...

    def put_at(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def keys(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def put_file(self, key: str, source: Path) -> None: ...

    def download(self, key: str, destination: Path) -> None: ...


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
        if not self._path(key).exists():
            self.put_at(key, data)
        return key

    def put_at(self, key: str, data: bytes) -> None:
        """Write (or replace) the object at `key`, atomically, readable by this user only."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def keys(self, prefix: str) -> list[str]:
        """Keys under `prefix/`, sorted."""
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(f"{prefix}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def put_file(self, key: str, source: Path) -> None:
        """Copy a (large) file to `key`, streaming and atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def download(self, key: str, destination: Path) -> None:
        shutil.copyfile(self._path(key), destination)


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

    def put_at(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix + "/")
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def put_file(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, key)  # multipart for large files

    def download(self, key: str, destination: Path) -> None:
        self.client.download_file(self.bucket, key, str(destination))


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
