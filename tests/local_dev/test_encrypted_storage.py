"""Orthanc's encrypted storage area: sealed files at rest, Orthanc unchanged on top."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import requests
from mcc_local.archive import STORAGE_PLUGIN, encrypted_orthanc
from mcc_local.orthanc import OrthancError, OrthancServer
from mcc_local.procs import free_port
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from functions.common.security.keys import MAGIC, CryptoError, Envelope, LocalKeyProvider
from orthanc.encrypted_storage import EncryptedStore, StorageError, store_from_configuration

PATIENT_NAME = "SECRET^PATIENT^ZZTOP"
PATIENT_ID = "PID-987654321"
PIXEL_PATTERN = bytes([0xC0, 0xFF, 0xEE, 0x5A, 0xA5, 0x13, 0x37, 0x42])
PIXEL_RUN = PIXEL_PATTERN * 4  # 32 bytes: no ciphertext contains this by chance.
SECRETS = (PATIENT_NAME.encode(), b"ZZTOP", PATIENT_ID.encode(), PIXEL_RUN)
DICOM = 1  # Orthanc's content type of the DICOM file itself.



def make_instance() -> bytes:
    """A 64x64 8-bit image of a known patient whose pixels repeat PIXEL_PATTERN."""
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = PATIENT_NAME
    ds.PatientID = PATIENT_ID
    ds.Modality = "OT"
    ds.StudyDate = "20240102"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    pixels = np.frombuffer(PIXEL_PATTERN * (64 * 64 // len(PIXEL_PATTERN)), dtype=np.uint8)
    ds.PixelData = pixels.reshape(64, 64).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# --- EncryptedStore on its own (no Orthanc) ---------------------------------------------------

UUID = "0f4b2c1e-8d7a-4e3b-9c6d-5a4b3c2d1e0f"
OTHER_UUID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def store(tmp_path: Path) -> EncryptedStore:
    return EncryptedStore(tmp_path / "store", Envelope(LocalKeyProvider(tmp_path / "keys")))


def test_store_round_trip_returns_the_original_bytes(store: EncryptedStore) -> None:
    data = make_instance()
    store.create(UUID, DICOM, data)
    assert store.read(UUID, DICOM) == data


def test_store_writes_a_private_sealed_file_sharded_like_orthanc(store: EncryptedStore) -> None:
    store.create(UUID, DICOM, make_instance())
    path = store.root / "0f" / "4b" / UUID
    sealed = path.read_bytes()
    assert sealed.startswith(MAGIC)
    assert not any(secret in sealed for secret in SECRETS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [UUID]  # No temporary file left behind.


def test_store_seals_the_same_content_differently_each_time(store: EncryptedStore) -> None:
    data = make_instance()
    store.create(UUID, DICOM, data)
    store.create(OTHER_UUID, DICOM, data)
    first, second = (store.path_of(u).read_bytes() for u in (UUID, OTHER_UUID))
    assert first[: len(MAGIC)] == second[: len(MAGIC)] == MAGIC
    assert first != second


@pytest.mark.parametrize(
    "bad_uuid",
    [
        "../../../etc/passwd",
        "0f/4b/../../x",
        "not-a-uuid",
        "",
        UUID.upper(),  # Another spelling of a UUID would be another file.
        UUID.replace("-", ""),
        UUID + "\x00",
        "/" + UUID,
    ],
)
def test_store_refuses_a_name_that_is_not_a_uuid(store: EncryptedStore, bad_uuid: str) -> None:
    with pytest.raises(ValueError, match="uuid"):
        store.create(bad_uuid, DICOM, b"data")
    with pytest.raises(ValueError, match="uuid"):
        store.read(bad_uuid, DICOM)
    with pytest.raises(ValueError, match="uuid"):
        store.remove(bad_uuid, DICOM)
    assert not store.root.exists()


def test_store_file_moved_to_another_uuid_does_not_open(store: EncryptedStore) -> None:
    store.create(UUID, DICOM, b"one attachment")
    store.create(OTHER_UUID, DICOM, b"another attachment")
    store.path_of(UUID).replace(store.path_of(OTHER_UUID))
    with pytest.raises(CryptoError):
        store.read(OTHER_UUID, DICOM)


def test_store_file_read_as_another_content_type_does_not_open(store: EncryptedStore) -> None:
    store.create(UUID, DICOM, b"the dicom file")
    with pytest.raises(CryptoError):
        store.read(UUID, 3)


def test_store_tampered_file_does_not_open(store: EncryptedStore) -> None:
    store.create(UUID, DICOM, make_instance())
    path = store.path_of(UUID)
    sealed = bytearray(path.read_bytes())
    sealed[len(sealed) // 2] ^= 0x01
    path.write_bytes(bytes(sealed))
    with pytest.raises(CryptoError):
        store.read(UUID, DICOM)


def test_store_remove_deletes_the_file_and_may_be_repeated(store: EncryptedStore) -> None:
    store.create(UUID, DICOM, b"data")
    store.remove(UUID, DICOM)
    assert not store.path_of(UUID).exists()
    store.remove(UUID, DICOM)
    with pytest.raises(StorageError, match="not stored"):
        store.read(UUID, DICOM)


def test_store_refuses_a_content_type_that_is_not_a_number(store: EncryptedStore) -> None:
    with pytest.raises(ValueError, match="content_type"):
        store.create(UUID, "1", b"data")  # type: ignore[arg-type]


def test_configuration_without_the_section_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match='"MedCloudCare": {"KeyDir"'):
        store_from_configuration({"Name": "Orthanc"})
    with pytest.raises(ValueError, match="MedCloudCare.KeyDir.*absolute"):
        store_from_configuration({"MedCloudCare": {"KeyDir": "keys", "EncryptedStorageDirectory": "/x"}})


# --- Orthanc on top of the plugin -------------------------------------------------------------


class Archive:
    """A running encrypted Orthanc plus what the tests need to look at its files."""

    def __init__(self, directory: Path) -> None:
        self.key_dir = directory / "keys"
        self.server = encrypted_orthanc(directory / "orthanc", port=free_port(), key_dir=self.key_dir)
        self.store = EncryptedStore(
            directory / "orthanc" / "data" / "encrypted", Envelope(LocalKeyProvider(self.key_dir))
        )

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(f"{self.server.url}{path}", auth=self.server.credentials, timeout=30, **kwargs)

    def upload(self, data: bytes) -> str:
        response = requests.post(
            f"{self.server.url}/instances", data=data, auth=self.server.credentials, timeout=30
        )
        assert response.status_code == 200, response.text
        return str(response.json()["ID"])

    def delete(self, instance: str) -> None:
        response = requests.delete(
            f"{self.server.url}/instances/{instance}", auth=self.server.credentials, timeout=30
        )
        assert response.status_code == 200, response.text

    def stored_files(self, instance: str) -> dict[str, Path]:
        """The sealed file of each of the instance's attachments, by attachment name."""
        names = self.get(f"/instances/{instance}/attachments").json()
        return {
            name: self.store.path_of(self.get(f"/instances/{instance}/attachments/{name}/info").json()["Uuid"])
            for name in names
        }

    def dicom_file(self, instance: str) -> Path:
        return self.stored_files(instance)["dicom"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    running = Archive(tmp_path_factory.mktemp("archive"))
    running.server.start()
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def instance(archive: Archive) -> tuple[str, bytes]:
    data = make_instance()
    return archive.upload(data), data


@pytest.fixture
def fresh_archive(tmp_path: Path) -> Iterator[Archive]:
    """An archive of its own, for tests that stop, alter and restart it."""
    running = Archive(tmp_path)
    running.server.start()
    yield running
    running.server.stop()


def test_orthanc_returns_the_uploaded_instance_byte_identical(
    archive: Archive, instance: tuple[str, bytes]
) -> None:
    instance_id, data = instance
    assert instance_id in archive.get("/instances").json()
    response = archive.get(f"/instances/{instance_id}/file")
    assert response.status_code == 200
    assert response.content == data


def test_orthanc_renders_the_instance_as_png(archive: Archive, instance: tuple[str, bytes]) -> None:
    response = archive.get(f"/instances/{instance[0]}/preview")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_dicomweb_finds_the_study(archive: Archive, instance: tuple[str, bytes]) -> None:
    study_uid = archive.get(f"/instances/{instance[0]}/tags?simplify").json()["StudyInstanceUID"]
    response = archive.get(
        "/dicom-web/studies", params={"PatientID": PATIENT_ID}, headers={"Accept": "application/dicom+json"}
    )
    assert response.status_code == 200
    assert study_uid in [study["0020000D"]["Value"][0] for study in response.json()]


def test_no_stored_file_holds_the_patient_name_id_or_pixels(
    archive: Archive, instance: tuple[str, bytes]
) -> None:
    # Every file Orthanc or the plugin wrote (storage areas, temporary files, log, config)
    # except Orthanc's SQLite index: it does hold the patient name, because replacing
    # identifying attributes by pseudonyms is the gateway's job, before Orthanc sees them.
    index = archive.server.directory / "data" / "index"
    index_files = [p for p in index.parent.glob("index*") if p.is_file()]
    assert PATIENT_NAME.encode() in b"".join(p.read_bytes() for p in index_files)  # The search works.
    files = [p for p in archive.server.directory.rglob("*") if p.is_file() and p not in index_files]
    assert set(archive.stored_files(instance[0]).values()) <= set(files)
    for path in files:
        content = path.read_bytes()
        leaked = [secret for secret in SECRETS if secret in content]
        assert not leaked, f"{path} holds {leaked}"


def test_orthanc_writes_attachments_only_through_the_plugin(
    archive: Archive, instance: tuple[str, bytes]
) -> None:
    config = json.loads(archive.server.config_path.read_text())
    assert not [p for p in Path(config["StorageDirectory"]).rglob("*") if p.is_file()]
    sealed = [p for p in archive.store.root.rglob("*") if p.is_file()]
    assert len(sealed) >= 1
    for path in sealed:
        assert path.read_bytes().startswith(MAGIC), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_uploading_the_same_content_again_stores_different_ciphertext(archive: Archive) -> None:
    data = make_instance()
    first_id = archive.upload(data)
    first = archive.dicom_file(first_id).read_bytes()
    archive.delete(first_id)  # Orthanc keeps an instance it already has: store it anew.
    second_id = archive.upload(data)
    second = archive.dicom_file(second_id).read_bytes()
    assert first.startswith(MAGIC) and second.startswith(MAGIC)
    assert first != second
    assert archive.get(f"/instances/{second_id}/file").content == data


def test_delete_removes_the_stored_files(archive: Archive) -> None:
    instance_id = archive.upload(make_instance())
    paths = archive.stored_files(instance_id).values()
    assert paths and all(p.exists() for p in paths)
    archive.delete(instance_id)
    assert not [p for p in paths if p.exists()]
    assert archive.get(f"/instances/{instance_id}/file").status_code == 404


def test_after_kek_rotation_and_restart_old_instances_read_and_new_use_the_new_key(
    fresh_archive: Archive,
) -> None:
    old_data = make_instance()
    old_id = fresh_archive.upload(old_data)
    old_kek = LocalKeyProvider(fresh_archive.key_dir).current_kek_id()
    fresh_archive.server.stop()
    new_kek = LocalKeyProvider(fresh_archive.key_dir).rotate()
    fresh_archive.server.start()

    assert fresh_archive.get(f"/instances/{old_id}/file").content == old_data
    new_id = fresh_archive.upload(make_instance())
    assert Envelope.kek_id_of(fresh_archive.dicom_file(old_id).read_bytes()) == old_kek
    assert Envelope.kek_id_of(fresh_archive.dicom_file(new_id).read_bytes()) == new_kek != old_kek


def test_tampered_file_makes_orthanc_fail_instead_of_answering_altered_data(
    fresh_archive: Archive,
) -> None:
    instance_id = fresh_archive.upload(make_instance())
    path = fresh_archive.dicom_file(instance_id)
    # Altered while Orthanc is down: its in-memory storage cache cannot answer for the disk.
    fresh_archive.server.stop()
    sealed = bytearray(path.read_bytes())
    sealed[len(sealed) // 2] ^= 0x01
    path.write_bytes(bytes(sealed))
    fresh_archive.server.start()

    file = fresh_archive.get(f"/instances/{instance_id}/file")
    assert file.status_code == 500 and PIXEL_RUN not in file.content
    assert fresh_archive.get(f"/instances/{instance_id}/preview").status_code >= 400
    log = fresh_archive.server.log_path.read_text()
    assert "encrypted storage: cannot read" in log and "tampered" in log


def test_orthanc_refuses_to_start_when_the_plugin_has_no_configuration(tmp_path: Path) -> None:
    server = OrthancServer(tmp_path, port=free_port(), python_script=STORAGE_PLUGIN)
    with pytest.raises(OrthancError, match="did not become ready"):
        server.start()
    assert "'MedCloudCare' section" in server.log_path.read_text()
    assert not server.is_running()
