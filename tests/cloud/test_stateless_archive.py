"""Stateless archive pods: Orthanc's index in PostgreSQL (orthanc-postgresql), its sealed files in an S3 bucket and
its key-encryption key in Cloud KMS, so a pod keeps nothing of its own.

The S3 server is moto's (`moto.server.ThreadedMotoServer`): an S3-compatible HTTP server on loopback, standing in
for GCS interoperability or MinIO, which cannot run here. Cloud KMS is the local stand-in of its REST API
(tests/support/cloud_kms_standin.py), reached by the plugin with Application Default Credentials. PostgreSQL is the
suite's real cluster."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials
from mcc_local.archive import KmsKey, S3Bucket, encrypted_orthanc
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from mcc_local.orthanc import OrthancError, OrthancServer, PostgresIndex
from mcc_local.postgres import PostgresCluster
from mcc_local.procs import free_port
from moto.server import ThreadedMotoServer

from functions.common.security.keys import MAGIC, Envelope
from functions.common.security.kms import CloudKmsKeyProvider
from orthanc.encrypted_storage import EncryptedStore, S3Files, StorageError, store_from_configuration
from tests.support.cloud_kms_standin import CloudKmsStandIn

BUCKET = "mcc-archive"
PREFIX = "orthanc/"
PATIENT = Patient(name="STATELESS^SECRET^QQZX", patient_id="PID-STATELESS-4242")
# Stand-in credentials: moto accepts any; they reach Orthanc through its environment only.
S3_ENV = {"AWS_ACCESS_KEY_ID": "local-stand-in", "AWS_SECRET_ACCESS_KEY": "stand-in-" + secrets.token_hex(8),
          "AWS_DEFAULT_REGION": "us-east-1"}
DICOM = 1  # Orthanc's content type of the DICOM file itself.
ARCHIVE_KEY = "projects/mcc-test/locations/europe-west1/keyRings/mcc/cryptoKeys/orthanc-kek"
ARCHIVE_TOKEN = "ya29.archive-" + secrets.token_hex(8)


class S3Server:
    """moto's S3 server on a fixed loopback port, which can go away and come back (its objects live in-process)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"])

    def objects(self) -> dict[str, bytes]:
        """Every object under the archive's prefix, by key."""
        client = self.client()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return {key: client.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CloudKmsStandIn, Path]]:
    """The stand-in KMS with the archive's key, and the credentials file Orthanc's ADC reads."""
    with CloudKmsStandIn() as standin:
        standin.create_key(ARCHIVE_KEY, grant=[ARCHIVE_TOKEN])
        adc = standin.write_credentials_file(tmp_path_factory.mktemp("adc") / "adc.json",
                                             email="mcc-archive@mcc-test.iam.gserviceaccount.com",
                                             access_token=ARCHIVE_TOKEN)
        yield standin, adc


@pytest.fixture(scope="module")
def index(postgres: PostgresCluster) -> PostgresIndex:
    """A database of its own for Orthanc's index in the suite's PostgreSQL cluster."""
    password = secrets.token_urlsafe(16)
    postgres.ensure_database("orthanc_index", "orthanc_index", password)
    return PostgresIndex(host="127.0.0.1", port=postgres.port, database="orthanc_index", username="orthanc_index",
                         password=password)


class Pods:
    """Archive pods sharing one index database, one bucket and one KMS key, each with an empty directory."""

    def __init__(self, root: Path, index: PostgresIndex, s3: S3Server, kms: tuple[CloudKmsStandIn, Path]) -> None:
        self.root, self.index, self.s3 = root, index, s3
        self.kms, adc = kms
        self.environment = {**S3_ENV, "GOOGLE_APPLICATION_CREDENTIALS": str(adc)}
        self.started: list[OrthancServer] = []

    def pod(self, *, key: str = ARCHIVE_KEY) -> OrthancServer:
        """A pod in a directory of its own, not started."""
        directory = self.root / f"pod-{len(self.started)}"
        assert not directory.exists()
        server = encrypted_orthanc(directory, port=free_port(), kms=KmsKey(key, endpoint=self.kms.url),
                                   index=self.index, environment=self.environment,
                                   bucket=S3Bucket(BUCKET, prefix=PREFIX, endpoint_url=self.s3.endpoint))
        self.started.append(server)
        return server

    def start(self) -> OrthancServer:
        server = self.pod()
        server.start()
        return server

    def sealed_store(self) -> EncryptedStore:
        """The bucket opened with the archive's envelope, outside Orthanc."""
        provider = CloudKmsKeyProvider(ARCHIVE_KEY, session=AuthorizedSession(Credentials(token=ARCHIVE_TOKEN)),
                                       endpoint=self.kms.url)
        return EncryptedStore(S3Files(BUCKET, prefix=PREFIX, client=self.s3.client()), Envelope(provider))

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory, index: PostgresIndex, s3: S3Server,
         kms: tuple[CloudKmsStandIn, Path]) -> Iterator[Pods]:
    running = Pods(tmp_path_factory.mktemp("stateless"), index, s3, kms)
    yield running
    running.stop_all()


def upload(server: OrthancServer, data: bytes) -> requests.Response:
    return requests.post(f"{server.url}/instances", data=data, auth=server.credentials, timeout=60)


def get(server: OrthancServer, path: str) -> requests.Response:
    return requests.get(f"{server.url}{path}", auth=server.credentials, timeout=60)


def instances(slices: int = 3) -> list[bytes]:
    return [to_bytes(ds) for ds in ct_series(PATIENT, slices=slices, rows=64, columns=64)]


@pytest.fixture(scope="module")
def stored(pods: Pods) -> dict[str, bytes]:
    """Three instances stored through a first pod, which is then stopped: Orthanc ID -> the uploaded bytes."""
    first = pods.start()
    by_id = {}
    for data in instances():
        response = upload(first, data)
        assert response.status_code == 200, response.text
        by_id[response.json()["ID"]] = data
    first.stop()
    return by_id


def test_a_new_pod_with_an_empty_directory_serves_every_instance_byte_identical(
    pods: Pods, stored: dict[str, bytes]
) -> None:
    replacement = pods.start()
    assert set(get(replacement, "/instances").json()) == set(stored)
    for instance_id, data in stored.items():
        assert get(replacement, f"/instances/{instance_id}/file").content == data
    # The pod holds neither index, sealed files nor keys: nothing to lose when it goes.
    assert not [p for p in (replacement.directory / "data").rglob("*") if p.is_file()]
    assert not [p for p in replacement.directory.rglob("*kek*")]
    config = replacement.config_path.read_text()
    assert pods.index.password not in config and S3_ENV["AWS_SECRET_ACCESS_KEY"] not in config
    replacement.stop()


def test_the_bucket_holds_only_sealed_objects_that_open_with_the_envelope(
    pods: Pods, stored: dict[str, bytes]
) -> None:
    objects = pods.s3.objects()
    assert len(objects) >= len(stored)
    uids = [uid.encode() for data in stored.values() for uid in _uids(data)]
    secrets_in_clear = [PATIENT.name.encode(), PATIENT.patient_id.encode(), *uids,
                        *(data[-256:-128] for data in stored.values())]  # a run of pixel bytes
    for key, body in objects.items():
        assert body.startswith(MAGIC), key
        assert not [s for s in secrets_in_clear if s in body], key
    reader = pods.start()
    uuids = {i: str(get(reader, f"/instances/{i}/attachments/dicom/info").json()["Uuid"]) for i in stored}
    reader.stop()
    store = pods.sealed_store()
    for instance_id, data in stored.items():
        assert store.read(uuids[instance_id], DICOM) == data


def test_two_pods_serve_one_archive_at_the_same_time(pods: Pods, stored: dict[str, bytes]) -> None:
    one, two = pods.start(), pods.start()
    data = instances(slices=1)[0]
    response = upload(one, data)
    assert response.status_code == 200, response.text
    assert get(two, f"/instances/{response.json()['ID']}/file").content == data
    assert requests.delete(f"{two.url}/instances/{response.json()['ID']}", auth=two.credentials,
                           timeout=60).status_code == 200
    assert get(one, f"/instances/{response.json()['ID']}/file").status_code == 404
    one.stop()
    two.stop()


def test_with_the_bucket_unreachable_a_store_fails_and_leaves_nothing_behind(
    pods: Pods, stored: dict[str, bytes]
) -> None:
    pod = pods.start()
    before_ids, before_objects = set(get(pod, "/instances").json()), set(pods.s3.objects())
    data = instances(slices=1)[0]
    pods.s3.stop()
    try:
        response = upload(pod, data)
        assert response.status_code >= 500 and BUCKET not in response.text
        assert set(get(pod, "/instances").json()) == before_ids
    finally:
        pods.s3.start()
    assert set(pods.s3.objects()) == before_objects
    log = pod.log_path.read_text()
    assert "encrypted storage: cannot write an attachment" in log and "unreachable" in log
    assert BUCKET not in log and pods.s3.endpoint not in log
    # Back again: the same instance stores and reads, and the earlier ones were never affected.
    again = upload(pod, data)
    assert again.status_code == 200, again.text
    assert get(pod, f"/instances/{again.json()['ID']}/file").content == data
    pod.stop()


def test_a_pod_whose_kms_key_is_refused_does_not_start(pods: Pods) -> None:
    pods.kms.create_key(ARCHIVE_KEY + "-revoked", grant=[])
    pod = pods.pod(key=ARCHIVE_KEY + "-revoked")
    with pytest.raises(OrthancError):
        pod.start()
    log = pod.log_path.read_text()
    assert "roles/cloudkms.cryptoKeyEncrypterDecrypter" in log and ARCHIVE_TOKEN not in log
    assert not pod.is_running()


def test_s3_settings_never_take_credentials(tmp_path: Path) -> None:
    section = {"KeyDir": str(tmp_path / "keys"), "StorageBackend": "s3",
               "S3": {"Bucket": BUCKET, "SecretAccessKey": "x"}}
    with pytest.raises(ValueError, match=r"MedCloudCare\.S3\.SecretAccessKey.*environment"):
        store_from_configuration({"MedCloudCare": section})
    with pytest.raises(ValueError, match=r"MedCloudCare\.S3.*Bucket"):
        store_from_configuration({"MedCloudCare": {**section, "S3": {"Prefix": "x/"}}})
    with pytest.raises(ValueError, match=r"MedCloudCare\.StorageBackend.*'gcs'"):
        store_from_configuration({"MedCloudCare": {**section, "StorageBackend": "gcs"}})
    with pytest.raises(ValueError, match=r"MedCloudCare\.S3: prefix"):
        store_from_configuration({"MedCloudCare": {**section, "S3": {"Bucket": BUCKET, "Prefix": "../x"}}})


def test_a_missing_object_reads_as_not_stored(pods: Pods, s3: S3Server) -> None:
    with pytest.raises(StorageError, match="not stored"):
        pods.sealed_store().read("0f4b2c1e-8d7a-4e3b-9c6d-5a4b3c2d1e0f", DICOM)


def _uids(data: bytes) -> list[str]:
    from io import BytesIO

    from pydicom import dcmread

    ds = dcmread(BytesIO(data))
    return [ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID]

