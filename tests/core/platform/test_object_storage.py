"""The object-storage contract on both backends: a local directory, and the S3 API through boto3 against moto's
S3 server on loopback (the faithful local stand-in for GCS interoperability or MinIO, which cannot run here)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from mcc_local.procs import free_port
from moto.server import ThreadedMotoServer

from functions.common.platform.storage import LocalStore, ObjectStore, S3Store

BUCKET = "mcc-objects"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_ACCESS_KEY_ID": "local-stand-in", "AWS_SECRET_ACCESS_KEY": "local-stand-in",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(params=["local", "s3"])
def objects(request, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    return S3Store(BUCKET, request.getfixturevalue("s3_endpoint"))


def test_objects_are_addressed_by_their_sha256_and_listed_by_prefix(objects: ObjectStore):
    key = objects.put(b"bundle bytes", prefix="bundles/m1")
    assert key == f"bundles/m1/{hashlib.sha256(b'bundle bytes').hexdigest()}"
    assert objects.put(b"bundle bytes", prefix="bundles/m1") == key
    objects.put_at("anchors/0001", b"first")
    assert objects.get(key) == b"bundle bytes" and objects.get("anchors/0001") == b"first"
    assert objects.keys("bundles/m1") == [key] and objects.keys("nothing") == []
    objects.delete(key)
    assert objects.keys("bundles/m1") == []


def test_large_files_go_in_and_out_streaming(objects: ObjectStore, tmp_path: Path):
    source = tmp_path / "weights.bin"
    data = os.urandom(1024 * 1024) * 12  # 12 MiB: boto3 sends it as a multipart upload
    source.write_bytes(data)
    objects.put_file("bundles/m2/large.zip", source)
    back = tmp_path / "back.bin"
    objects.download("bundles/m2/large.zip", back)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert objects.keys("bundles/m2") == ["bundles/m2/large.zip"]


def test_a_local_key_cannot_leave_the_store(tmp_path: Path):
    with pytest.raises(ValueError, match="escapes"):
        LocalStore(tmp_path / "objects").put_at("../outside", b"x")
