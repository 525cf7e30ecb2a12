"""Nothing identifying is readable at rest: not in Orthanc's files or index, a PostgreSQL dump, or the logs."""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from mcc_local.dicomgen import Patient, ct_series

from tests.support.dicomweb import stow


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("urllib3"):
            return  # the tests' own HTTP client, not the platform
        self.lines.append(self.format(record) + " " + " ".join(f"{k}={v}" for k, v in record.__dict__.items()))


@pytest.fixture(scope="module")
def secrets_uploaded(factory, archive):
    """Upload a study full of recognisable identifiers while recording every log record."""
    tag = uuid.uuid4().hex[:8].upper()
    patient = Patient(name=f"QXSECRET{tag}^WILHELMINA", patient_id=f"QXPID{tag}", birth_date="19430817",
                      referring_physician=f"QXDOCTOR{tag}^JOHN", institution=f"QXHOSPITAL{tag}",
                      accession=f"QXACC{tag}")
    series = ct_series(patient, slices=3, rows=64, columns=64)
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        doctor = factory.create("health_professional")
        assert stow(doctor.client, series).status_code == 200
        uid = series[0].StudyInstanceUID
        assert doctor.client.get("/dicom-web/studies", params={"PatientName": f"qxsecret{tag.lower()}*"}).json()
        assert doctor.client.get(f"/dicom-web/studies/{uid}/metadata").status_code == 200
        assert doctor.client.get("/api/studies", params={"patient_id": patient.patient_id}).json()["total"] == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    pixels = bytes(series[1].PixelData)
    middle = len(pixels) // 2
    needles = [patient.name.encode(), f"QXSECRET{tag}".encode(), patient.patient_id.encode(),
               f"QXDOCTOR{tag}".encode(), patient.institution.encode(), patient.accession.encode(),
               b"WILHELMINA", pixels[middle:middle + 48]]
    return {"needles": needles, "logs": "\n".join(handler.lines), "tag": tag}


def _files(root: Path):
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def test_orthanc_storage_and_index_hold_no_identifier_and_no_raw_pixels(secrets_uploaded, archive):
    found = [(str(p), n) for p in _files(archive.directory) for n in secrets_uploaded["needles"]
             if n in p.read_bytes()]
    assert found == []


def test_a_database_dump_holds_no_identifier(secrets_uploaded, postgres):
    env = {**os.environ, "PGPASSWORD": postgres.password_file.read_text().strip()}
    dump = subprocess.run([str(postgres.bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(postgres.port),
                           "-U", postgres.superuser, "mcc"], env=env, capture_output=True, check=True).stdout
    assert b"CREATE TABLE public.studies" in dump  # the dump is real
    assert [n for n in secrets_uploaded["needles"] if n in dump] == []


def test_the_logs_hold_no_identifier(secrets_uploaded, postgres):
    logs = secrets_uploaded["logs"].encode()
    assert b"route=/studies" in logs  # the gateway's requests were logged
    server_log = b"".join(p.read_bytes() for p in postgres.log_file.parent.glob("*") if p.is_file())
    for needle in secrets_uploaded["needles"][:-1]:
        assert needle not in logs
        assert needle not in server_log
