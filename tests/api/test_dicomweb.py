"""The DICOMweb gateway: STOW, QIDO and WADO through the real origin, Orthanc and PostgreSQL."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes

from tests.support.dicomweb import DICOM_PARTS, FRAME_PARTS, instance_path, multipart, parts_of, stow
from tests.support.problem import assert_problem


def value(item: dict, tag: str):
    v = item[tag].get("Value", [None])[0]
    return v.get("Alphabetic") if isinstance(v, dict) else v


@pytest.fixture(scope="module")
def uploaded(doctor):
    """A 4-slice CT of a patient with a recognisable name, stored by `doctor`."""
    tag = uuid.uuid4().hex[:6].upper()
    patient = Patient(name=f"ZZTEST{tag}^GRÉTA", patient_id=f"PID-{tag}", birth_date="19610203",
                      referring_physician="HOUSE^GREGORY", institution="St Elsewhere Hospital",
                      accession=f"ACC{tag}")
    series = ct_series(patient, slices=4, rows=64, columns=64, study_date="20260115")
    r = stow(doctor.client, series)
    assert r.status_code == 200, r.text
    return {"patient": patient, "series": series, "study_uid": str(series[0].StudyInstanceUID),
            "series_uid": str(series[0].SeriesInstanceUID), "tag": tag, "response": r.json()}


def test_stow_answers_with_every_stored_instance(uploaded):
    body = uploaded["response"]
    assert len(body["00081199"]["Value"]) == 4
    assert "00081198" not in body
    assert body["00081190"]["Value"][0].endswith(f"/dicom-web/studies/{uploaded['study_uid']}")


def test_owner_finds_the_study_by_name_prefix_in_any_case_and_without_accents(doctor, uploaded):
    for query in (f"zztest{uploaded['tag'].lower()}*", "greta", f"ZZTEST{uploaded['tag']}^Gréta"):
        r = doctor.client.get("/dicom-web/studies", params={"PatientName": query})
        assert r.status_code == 200, r.text
        uids = [value(i, "0020000D") for i in r.json()]
        assert uploaded["study_uid"] in uids, query
    item = next(i for i in r.json() if value(i, "0020000D") == uploaded["study_uid"])
    assert value(item, "00100010") == uploaded["patient"].name
    assert value(item, "00100020") == uploaded["patient"].patient_id
    assert value(item, "00201208") == 4


def test_qido_filters_by_patient_id_date_range_and_modality(doctor, uploaded):
    uid = uploaded["study_uid"]

    def found(**params) -> bool:
        r = doctor.client.get("/dicom-web/studies", params=params)
        assert r.status_code == 200, r.text
        return uid in [value(i, "0020000D") for i in r.json()]

    assert found(PatientID=uploaded["patient"].patient_id)
    assert not found(PatientID="PID-NOPE")
    assert found(StudyDate="20260101-20260131") and not found(StudyDate="20250101-20251231")
    assert found(ModalitiesInStudy="CT") and not found(ModalitiesInStudy="MR")


@pytest.mark.parametrize("role", ["health_professional", "researcher"])
def test_other_users_see_nothing_and_unknown_equals_forbidden(factory, uploaded, role):
    other = factory.create(role)
    r = other.client.get("/dicom-web/studies", params={"PatientID": uploaded["patient"].patient_id})
    assert r.status_code == 200 and r.json() == []
    forbidden = other.client.get(f"/dicom-web/studies/{uploaded['study_uid']}/metadata")
    unknown = other.client.get("/dicom-web/studies/1.2.3.4.5.6.7/metadata")
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize("who,status,code", [("pending", 403, "account_pending"),
                                             ("admin", 403, "no_patient_data_access")])
def test_pending_professionals_and_admins_see_no_patient_data(factory, who, status, code):
    account = factory.create("health_professional", status="pending") if who == "pending" else factory.admin()
    assert_problem(account.client.get("/dicom-web/studies"), status, code)


def test_anonymous_requests_are_refused(client, uploaded):
    assert_problem(client.get("/dicom-web/studies"), 401, "not_authenticated")
    assert_problem(client.get(f"/dicom-web/studies/{uploaded['study_uid']}/metadata"), 401, "not_authenticated")


def test_metadata_restores_originals_while_orthanc_holds_only_pseudonyms(doctor, uploaded, archive):
    path = f"/dicom-web/studies/{uploaded['study_uid']}/series/{uploaded['series_uid']}/metadata"
    mine = doctor.client.get(path)
    assert mine.status_code == 200
    assert {value(i, "00100010") for i in mine.json()} == {uploaded["patient"].name}
    assert {value(i, "00080090") for i in mine.json()} == {"HOUSE^GREGORY"}
    import requests

    direct = requests.get(archive.url + path, auth=tuple(archive.credentials), timeout=10).json()
    names = {value(i, "00100010") for i in direct}
    assert uploaded["patient"].name not in names and all(n.startswith("ANON^") for n in names)
    assert all(value(i, "00080080") != "St Elsewhere Hospital" for i in direct)  # InstitutionName: a dummy


def test_retrieved_instance_has_original_attributes_and_unchanged_pixels(doctor, uploaded):
    original = uploaded["series"][1]
    r = doctor.client.get(instance_path(original), headers={"Accept": DICOM_PARTS})
    assert r.status_code == 200
    (part,) = parts_of(r)
    ds = pydicom.dcmread(io.BytesIO(part))
    assert str(ds.PatientName) == uploaded["patient"].name
    assert ds.InstitutionName == "St Elsewhere Hospital"
    assert np.array_equal(ds.pixel_array, original.pixel_array)


def test_frames_stream_the_stored_pixels(doctor, uploaded):
    original = uploaded["series"][0]
    r = doctor.client.get(instance_path(original) + "/frames/1", headers={"Accept": FRAME_PARTS})
    assert r.status_code == 200
    (frame,) = parts_of(r)
    assert frame == original.PixelData[: original.Rows * original.Columns * 2]


def test_storing_into_another_users_study_is_refused_and_stores_nothing(factory, uploaded, archive):
    import requests

    before = len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())
    intruder = factory.create("health_professional")
    extra = ct_series(Patient(name="OTHER^PERSON"), slices=1, rows=32, columns=32,
                      study_uid=uploaded["study_uid"])
    r = stow(intruder.client, extra)
    assert r.status_code == 409
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081197"]["Value"] == [0x0124]
    after = len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())
    assert after == before


def test_retrying_an_instance_is_idempotent(doctor, uploaded):
    r = stow(doctor.client, uploaded["series"][:1])
    assert r.status_code == 200
    r = doctor.client.get("/dicom-web/studies", params={"PatientID": uploaded["patient"].patient_id})
    assert value(r.json()[0], "00201208") == 4


def test_bad_parts_get_failure_reasons_and_good_ones_are_stored(doctor):
    good = ct_series(Patient(name="MIXED^BATCH"), slices=1, rows=32, columns=32)[0]
    r = stow(doctor.client, None, raw=[to_bytes(good), b"this is not DICOM at all", to_bytes(good)[:200]])
    assert r.status_code == 202
    reasons = [f["00081197"]["Value"][0] for f in r.json()["00081198"]["Value"]]
    assert reasons == [0xC000, 0xC000]
    assert len(r.json()["00081199"]["Value"]) == 1


def test_compressed_or_mistyped_bodies_are_refused(doctor):
    body, ctype = multipart([b"x"])
    assert_problem(doctor.client.post("/dicom-web/studies", data=body,
                                      headers={"Content-Type": ctype, "Content-Encoding": "gzip"}),
                   415, "unsupported_type")
    assert_problem(doctor.client.post("/dicom-web/studies", data=b"{}",
                                      headers={"Content-Type": "application/json"}), 415, "unsupported_type")


def test_an_instance_whose_study_differs_from_the_url_is_refused(doctor):
    ds = ct_series(Patient(name="URL^MISMATCH"), slices=1, rows=32, columns=32)[0]
    r = stow(doctor.client, [ds], study_uid="1.2.826.0.1.3680043.8.498.1")
    assert r.status_code == 409
    assert r.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xA900]


@pytest.mark.parametrize("suffix", ["rendered", "thumbnail"])
def test_rendered_and_thumbnail_images_come_through(doctor, uploaded, suffix):
    r = doctor.client.get(f"{instance_path(uploaded['series'][0])}/{suffix}", headers={"Accept": "image/jpeg"})
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"].startswith("image/jpeg")
    assert r.content[:3] == b"\xff\xd8\xff"


def test_every_study_access_is_audited(doctor, uploaded):
    from sqlalchemy import select

    from functions.common.platform import db
    from functions.common.security.audit import AuditEvent

    doctor.client.get(f"/dicom-web/studies/{uploaded['study_uid']}/metadata")
    with db.session_scope() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(
            AuditEvent.target == f"study:{uploaded['study_uid']}")))
    assert {"study_store", "study_view"} <= actions


def test_an_archive_outage_is_a_503_to_retry_and_leaves_nothing_behind(doctor, archive):
    series = ct_series(Patient(name="OUTAGE^CASE", patient_id=f"OUT-{uuid.uuid4().hex[:6]}"), slices=2, rows=32,
                       columns=32)
    archive.stop()
    try:
        down = stow(doctor.client, series)
        mixed = stow(doctor.client, None, raw=[b"this is not DICOM at all", to_bytes(series[0])])
    finally:
        archive.start()
    assert_problem(down, 503, "unavailable")  # nothing could be stored because the archive is down
    assert int(down.headers["Retry-After"]) > 0
    assert mixed.status_code == 409 and int(mixed.headers["Retry-After"]) > 0
    failures = mixed.json()["00081198"]["Value"]
    assert [f["00081197"]["Value"][0] for f in failures] == [0xC000, 0x0110]
    assert "retry" in failures[1]["00000902"]["Value"][0]  # the instance, not the request, says to send it again
    listed = doctor.client.get("/api/studies", params={"patient_id": series[0].PatientID}).json()
    assert listed["total"] == 0  # no orphan study row
    assert stow(doctor.client, series).status_code == 200
