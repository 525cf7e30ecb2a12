"""No patient data in logs, warnings or mail, on the error paths too: every function is driven with
marked patient data into its refusals and failures, then the origin's log lines, the Python warnings
raised meanwhile, the PostgreSQL server log and every mail are searched for the marks."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from sqlalchemy import text

from functions.common.security.crypto import keyed_hash
from tests.support.api_client import Mailbox
from tests.support.dicomweb import stow
from tests.support.logs import origin_output


@pytest.fixture
def refuse_studies_described(owner_engine):
    """A real database failure while indexing: a trigger refusing study rows of the marked patient (by the keyed
    hash of their ID: the index holds no description any more, and the mark must not be in the trigger)."""
    def refuse(mark: str) -> None:
        pid_hash = keyed_hash(f"{mark}-PID", purpose="patient-id")
        with owner_engine.begin() as conn:
            conn.execute(text(f"""
                CREATE OR REPLACE FUNCTION mcc_test_refuse_study() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.patient_id_hash = '{pid_hash}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                  RETURN NEW;
                END $$;
                DROP TRIGGER IF EXISTS mcc_test_refuse_study ON studies;
                CREATE TRIGGER mcc_test_refuse_study BEFORE INSERT ON studies
                    FOR EACH ROW EXECUTE FUNCTION mcc_test_refuse_study();
            """))

    yield refuse
    with owner_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS mcc_test_refuse_study ON studies; "
                          "DROP FUNCTION IF EXISTS mcc_test_refuse_study()"))


def _marked_series(mark: str, *, slices: int = 2):
    patient = Patient(name=f"{mark}^LEAKY", patient_id=f"{mark}-PID", referring_physician=f"{mark}^DOC",
                      institution=f"{mark} Hospital", accession=f"{mark[:10]}A")
    series = ct_series(patient, slices=slices, rows=16, columns=16)
    for ds in series:
        ds.StudyDescription = f"Chest {mark}"
    return series


def test_marked_patient_data_never_reaches_logs_warnings_or_mail(factory, doctor, mailbox: Mailbox, postgres,
                                                                 refuse_studies_described):
    mark = "QXLEAK" + uuid.uuid4().hex[:8].upper()
    colleague = factory.create("health_professional")
    with origin_output() as output:
        # dicomweb: stored, then refused instances (a value pydicom warns about, broken pixels, wrong study)
        series = _marked_series(mark)
        assert stow(doctor.client, series).status_code == 200
        study_uid = str(series[0].StudyInstanceUID)
        odd = _marked_series(mark, slices=1)[0]
        odd.PatientBirthDate = f"{mark}-not-a-date"
        broken = _marked_series(mark, slices=1)[0]
        broken.PixelData = bytes(broken.PixelData)[:-10]
        r = stow(doctor.client, [odd, broken])
        assert r.status_code in (202, 409), r.text
        assert stow(factory.create("health_professional").client, _marked_series(mark, slices=1),
                    study_uid=None).status_code == 200
        other = _marked_series(mark, slices=1)[0]
        other.StudyInstanceUID = study_uid
        assert stow(colleague.client, [other]).status_code == 409  # not theirs
        # the database refuses the index rows: the error (with its SQL) is logged
        refuse_studies_described(mark)
        assert stow(doctor.client, _marked_series(mark, slices=1)).status_code == 409
        # searches and reads with marked queries, of studies one may not see
        doctor.client.get("/dicom-web/studies", params={"PatientName": f"{mark}*", "PatientID": f"{mark}-PID"})
        doctor.client.get("/dicom-web/studies", params={"PatientName": f"{mark}*a*"})  # refused: inner wildcard
        colleague.client.get(f"/dicom-web/studies/{study_uid}/metadata")
        # studies: the list with marked filters, a zip with marked file names and a broken file
        doctor.client.get("/api/studies", params={"patient_name": mark, "date_from": mark})
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr(f"{mark}/IM0001.dcm", to_bytes(_marked_series(mark, slices=1)[0])[:400])
            z.writestr(f"{mark}/IM0002.dcm", b"not dicom " + mark.encode())
        r = doctor.client.post("/api/studies/import", data=archive.getvalue(), headers={"Content-Type": "application/zip"})
        assert r.status_code == 200 and len(r.json()["failed"]) == 2
        # sharing: the share mail, and refused shares
        assert doctor.client.post(f"/api/shares/studies/{study_uid}",
                                  json={"email": colleague.email, "level": "read"}).status_code == 201
        doctor.client.post(f"/api/shares/studies/{study_uid}", json={"email": f"{mark}@example.org", "level": "read"})
        # auth: refusals with marked input
        factory.client().post("/api/auth/login", json={"email": f"{mark}@example.org", "password": mark})
        factory.client().post("/api/auth/signup", json={"email": "x@example.org", "name": mark, "password": mark,
                                                        "role": "researcher"})
        logged = output()

    share_mail = mailbox.wait_for(colleague.email, "shared")
    assert "CT study" in str(share_mail["Subject"])
    mails = [m for m in mailbox.sink.messages if m.get_body(preferencelist=("plain",))]
    mail_text = "\n".join(str(m["Subject"]) + m.get_body(preferencelist=("plain",)).get_content() for m in mails)
    server_log = "".join(p.read_text(errors="replace") for p in postgres.log_file.parent.glob("*") if p.is_file())

    assert '"route": "/studies"' in logged and "indexing stored instances failed" in logged  # the capture is real
    assert mark not in logged, [line for line in logged.splitlines() if mark in line][:3]
    assert mark not in mail_text
    assert mark not in server_log
