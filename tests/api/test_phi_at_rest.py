"""Nothing identifying is readable at rest: not in Orthanc's files or index (raw, or through its REST API), the
platform's database, or the logs; and readers the study is shared with get every original back exactly."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import uuid
from pathlib import Path

import pydicom
import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from sqlalchemy import text

from functions.common.dicom.validation import parse_part10
from tests.support.dicomweb import DICOM_PARTS, parts_of, stow


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("urllib3"):
            return  # the tests' own HTTP client, not the platform
        self.lines.append(self.format(record) + " " + " ".join(f"{k}={v}" for k, v in record.__dict__.items()))


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _planted(ds: Dataset, m: dict[str, str]) -> None:
    """Markers in every class the profile handles: names and IDs, dates, descriptions, free text, nested items,
    private tags (plain and a private sequence)."""
    ds.OperatorsName, ds.StationName, ds.PatientAddress = m["operator"], m["station"], m["address"]
    ds.StudyDate, ds.SeriesDate, ds.AcquisitionDateTime = m["study_date"], m["study_date"], m["study_date"] + "101010"
    ds.StudyDescription, ds.SeriesDescription, ds.ImageComments = m["study_desc"], m["series_desc"], m["comment"]
    ds.ProtocolName = m["protocol"]
    nested = Dataset()
    nested.ReferencedSOPClassUID, nested.ReferencedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    nested.InstitutionName, nested.PatientName = m["nested_institution"], m["nested_name"]
    ds.ReferencedImageSequence = Sequence([nested])
    procedure = _code("P1", "Procedure")
    procedure.add_new(0x00081030, "LO", m["nested_desc"])
    ds.ProcedureCodeSequence = Sequence([procedure])
    ds.add_new(0x00290010, "LO", "QXACME PRIVATE")
    ds.add_new(0x00291001, "LO", m["private"])
    private_item = Dataset()
    private_item.add_new(0x00291002, "LO", m["private_nested"])
    ds.add_new(0x00291003, "SQ", Sequence([private_item]))


def _sr(series: list[Dataset], m: dict[str, str]) -> Dataset:
    """A Basic Text SR of the same study whose content holds free text."""
    first = series[0]
    ds = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName", "StudyDate", "StudyTime"):
        if keyword in first:
            setattr(ds, keyword, first.data_element(keyword).value)
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.88.11", generate_uid()
    ds.SeriesInstanceUID, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = generate_uid(), "SR", 99, 1
    ds.ContentDate, ds.ContentTime = m["study_date"], "101010"
    ds.ValueType, ds.ContinuityOfContent, ds.CompletionFlag, ds.VerificationFlag = \
        "CONTAINER", "SEPARATE", "COMPLETE", "UNVERIFIED"
    ds.ConceptNameCodeSequence = Sequence([_code("121060", "History")])
    finding = Dataset()
    finding.RelationshipType, finding.ValueType, finding.TextValue = "CONTAINS", "TEXT", m["sr_text"]
    finding.ConceptNameCodeSequence = Sequence([_code("121071", "Finding")])
    ds.ContentSequence = Sequence([finding])
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    return ds


@pytest.fixture(scope="module")
def secrets_uploaded(factory, archive):
    """Upload a study full of recognisable identifiers while recording every log record."""
    tag = uuid.uuid4().hex[:8].upper()
    patient = Patient(name=f"QXSECRET{tag}^WILHELMINA", patient_id=f"QXPID{tag}", birth_date="19430817",
                      referring_physician=f"QXDOCTOR{tag}^JOHN", institution=f"QXHOSPITAL{tag}",
                      accession=f"QXACC{tag}")
    m = {k: f"QX{k.upper().replace('_', '')}{tag}" for k in (
        "operator", "station", "address", "study_desc", "series_desc", "comment", "protocol", "nested_institution",
        "nested_name", "nested_desc", "private", "private_nested", "sr_text")}
    m["study_date"] = "19610523"
    series = ct_series(patient, slices=3, rows=64, columns=64)
    for ds in series:
        _planted(ds, m)
    instances = [*series, _sr(series, m)]
    files = [to_bytes(ds) for ds in instances]
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        doctor = factory.create("health_professional")
        assert stow(doctor.client, instances, raw=files).status_code == 200
        uid = series[0].StudyInstanceUID
        assert doctor.client.get("/dicom-web/studies", params={"PatientName": f"qxsecret{tag.lower()}*"}).json()
        assert doctor.client.get(f"/dicom-web/studies/{uid}/metadata").status_code == 200
        assert doctor.client.get("/api/studies", params={"patient_id": patient.patient_id}).json()["total"] == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    pixels = bytes(series[1].PixelData)
    middle = len(pixels) // 2
    identity = [patient.name.encode(), f"QXSECRET{tag}".encode(), patient.patient_id.encode(),
                f"QXDOCTOR{tag}".encode(), patient.institution.encode(), patient.accession.encode(), b"WILHELMINA"]
    planted = [v.encode() for k, v in m.items() if k != "study_date"] + [b"19610523", b"1961-05-23", b"19430817",
                                                                          b"1943-08-17"]
    return {"identity": identity, "needles": identity + planted, "pixels": pixels[middle:middle + 48],
            "logs": "\n".join(handler.lines), "tag": tag, "doctor": doctor, "instances": instances, "files": files,
            "markers": m}


def _holds(blob: bytes, needle: bytes) -> bool:
    """Whether `blob` holds `needle`. A date needle (digits only) counts where it starts a value, not inside a UID: a
    random UID of the thousands the session's archive holds contains a given 8 digits about once in thirty runs."""
    if needle.isdigit():
        return re.search(rb"(?<![0-9.])" + re.escape(needle), blob) is not None
    return needle in blob


def _files(root: Path):
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def _orthanc(archive, path: str) -> requests.Response:
    response = requests.get(archive.url + path, auth=(archive.credentials.username, archive.credentials.password),
                            timeout=30)
    response.raise_for_status()
    return response


def test_orthanc_storage_and_index_hold_no_identifier_and_no_raw_pixels(secrets_uploaded, archive):
    needles = secrets_uploaded["needles"] + [secrets_uploaded["pixels"]]
    found = [(str(p), n) for p in _files(archive.directory) for n in needles if _holds(p.read_bytes(), n)]
    assert found == []
    # The date check sees dates where the index keeps them: the archive's own (shifted) study date is found.
    uid = secrets_uploaded["instances"][0].StudyInstanceUID
    study = requests.post(archive.url + "/tools/find", json={"Level": "Study", "Query": {"StudyInstanceUID": uid},
                                                           "Expand": True},
                          auth=(archive.credentials.username, archive.credentials.password), timeout=30).json()[0]
    shifted = study["MainDicomTags"]["StudyDate"].encode()
    assert shifted.isdigit() and shifted != b"19610523"
    assert any(_holds(p.read_bytes(), shifted) for p in _files(archive.directory) if p.name.startswith("index"))


def test_orthanc_answers_hold_no_identifier_in_tags_or_files(secrets_uploaded, archive):
    uid = secrets_uploaded["instances"][0].StudyInstanceUID
    ids = requests.post(archive.url + "/tools/find", json={"Level": "Instance", "Query": {"StudyInstanceUID": uid}},
                        auth=(archive.credentials.username, archive.credentials.password), timeout=30).json()
    assert len(ids) == len(secrets_uploaded["instances"])
    for orthanc_id in ids:
        tags = _orthanc(archive, f"/instances/{orthanc_id}/tags").content
        stored = _orthanc(archive, f"/instances/{orthanc_id}/file").content
        assert b"YES" in tags and b"113100" in stored  # the profile's own marks: these are the archive's copies
        assert [n for n in secrets_uploaded["needles"] if _holds(tags, n) or _holds(stored, n)] == []


def test_no_database_column_holds_an_identifier(secrets_uploaded, owner_engine):
    """Every value of every column of every table."""
    needles = secrets_uploaded["needles"]
    with owner_engine.connect() as conn:
        columns = conn.execute(text("SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = 'public' ORDER BY table_name, column_name")).all()
        assert ("instances", "originals_enc") in {tuple(c) for c in columns}
        found = []
        for table, column in columns:
            for (value,) in conn.execute(text(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')):
                blob = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                found += [(table, column, n) for n in needles if _holds(blob, n)]
    assert found == []


def test_a_database_dump_holds_no_identity(secrets_uploaded, postgres):
    env = {**os.environ, "PGPASSWORD": postgres.password_file.read_text().strip()}
    dump = subprocess.run([str(postgres.bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(postgres.port),
                           "-U", postgres.superuser, "mcc"], env=env, capture_output=True, check=True).stdout
    assert b"CREATE TABLE public.studies" in dump  # the dump is real
    assert [n for n in secrets_uploaded["identity"] if n in dump] == []


def test_the_logs_hold_no_identifier(secrets_uploaded, postgres):
    logs = secrets_uploaded["logs"].encode()
    assert b"route=/studies" in logs  # the gateway's requests were logged
    server_log = b"".join(p.read_bytes() for p in postgres.log_file.parent.glob("*") if p.is_file())
    for needle in secrets_uploaded["needles"]:
        assert not _holds(logs, needle)
        assert not _holds(server_log, needle)


def test_a_reader_retrieves_every_instance_exactly_as_uploaded(secrets_uploaded):
    """WADO-RS retrieve gives back each file as the archive would have stored it without de-identification."""
    client = secrets_uploaded["doctor"].client
    expected = {}
    for data in secrets_uploaded["files"]:
        out = io.BytesIO()
        ds = parse_part10(data)
        ds.save_as(out, enforce_file_format=True)
        expected[str(ds.SOPInstanceUID)] = out.getvalue()
    uid = secrets_uploaded["instances"][0].StudyInstanceUID
    response = client.get(f"/dicom-web/studies/{uid}", headers={"Accept": DICOM_PARTS})
    assert response.status_code == 200
    got = {str(pydicom.dcmread(io.BytesIO(p)).SOPInstanceUID): p for p in parts_of(response)}
    assert got.keys() == expected.keys()
    assert [u for u in got if got[u] != expected[u]] == []


def test_metadata_and_searches_give_back_the_originals(secrets_uploaded):
    client, m = secrets_uploaded["doctor"].client, secrets_uploaded["markers"]
    ct, sr = secrets_uploaded["instances"][0], secrets_uploaded["instances"][-1]
    items = client.get(f"/dicom-web/studies/{ct.StudyInstanceUID}/metadata").json()
    by_uid = {i["00080018"]["Value"][0]: i for i in items}
    item = by_uid[ct.SOPInstanceUID]
    assert item["00081030"]["Value"] == [m["study_desc"]] and item["00080020"]["Value"] == ["19610523"]
    assert item["00100010"]["Value"][0]["Alphabetic"] == str(ct.PatientName)
    nested = item["00081140"]["Value"][0]
    assert nested["00100010"]["Value"][0]["Alphabetic"] == m["nested_name"]
    assert nested["00080080"]["Value"] == [m["nested_institution"]]
    assert item["00081032"]["Value"][0]["00081030"]["Value"] == [m["nested_desc"]]
    assert "00120062" not in item and "00120064" not in item  # the profile's marks are the archive copy's only
    assert item["00291001"]["Value"] == [m["private"]]
    assert item["00291003"]["Value"][0]["00291002"]["Value"] == [m["private_nested"]]
    sr_item = by_uid[sr.SOPInstanceUID]
    assert sr_item["0040A730"]["Value"][0]["0040A160"]["Value"] == [m["sr_text"]]
    (study,) = client.get("/dicom-web/studies", params={"StudyInstanceUID": ct.StudyInstanceUID}).json()
    assert study["00100010"]["Value"][0]["Alphabetic"] == str(ct.PatientName)
    instances = client.get(f"/dicom-web/studies/{ct.StudyInstanceUID}/instances").json()
    assert {i["00100020"]["Value"][0] for i in instances} == {ct.PatientID}
