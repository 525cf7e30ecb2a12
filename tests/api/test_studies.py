"""The portal's study list (index filters, sort, paging, total) and study deletion."""

from __future__ import annotations

import uuid

import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series, mr_series

from tests.support.api_client import STRONG_PASSWORD
from tests.support.dicomweb import stow
from tests.support.problem import assert_problem


@pytest.fixture(scope="module")
def library(researcher):
    """Three studies of two patients, different dates and modalities."""
    tag = uuid.uuid4().hex[:6].upper()
    studies = {
        "ct_jan": ct_series(Patient(name=f"NOVAK{tag}^ÉMILE", patient_id=f"N-{tag}"), slices=1, rows=32, columns=32,
                            study_date="20260110"),
        "mr_mar": mr_series(Patient(name=f"NOVAK{tag}^ÉMILE", patient_id=f"N-{tag}"), slices=1, rows=32, columns=32,
                            study_date="20260305"),
        "ct_feb": ct_series(Patient(name=f"LINDQVIST{tag}^ANNA", patient_id=f"L-{tag}"), slices=1, rows=32,
                            columns=32, study_date="20260214"),
    }
    for series in studies.values():
        assert stow(researcher.client, series).status_code == 200
    return {"tag": tag, "uids": {k: str(v[0].StudyInstanceUID) for k, v in studies.items()}}


def listed(client, **params) -> list[str]:
    r = client.get("/api/studies", params=params)
    assert r.status_code == 200, r.text
    return [i["study_uid"] for i in r.json()["items"]]


def test_list_shows_original_patient_attributes_and_counts(researcher, library):
    r = researcher.client.get("/api/studies", params={"patient_name": f"novak{library['tag'].lower()}*"})
    body = r.json()
    assert body["total"] == 2
    item = body["items"][0]
    assert item["patient_name"] == f"NOVAK{library['tag']}^ÉMILE"
    assert item["patient_id"] == f"N-{library['tag']}"
    assert item["num_instances"] == 1


def test_filters_by_name_component_accent_insensitively_patient_id_modality_and_dates(researcher, library):
    uids = library["uids"]
    assert set(listed(researcher.client, patient_name="emile")) >= {uids["ct_jan"], uids["mr_mar"]}
    assert listed(researcher.client, patient_id=f"L-{library['tag']}") == [uids["ct_feb"]]
    tagged = set(uids.values())
    assert set(listed(researcher.client, modality="MR")) & tagged == {uids["mr_mar"]}
    assert set(listed(researcher.client, date_from="2026-02-01", date_to="2026-02-28")) & tagged == {uids["ct_feb"]}


def test_sorts_by_study_date_and_pages_with_a_total(researcher, library):
    name = f"novak{library['tag'].lower()}*"
    newest_first = listed(researcher.client, patient_name=name, sort="date")
    assert newest_first == [library["uids"]["mr_mar"], library["uids"]["ct_jan"]]
    assert listed(researcher.client, patient_name=name, sort="-date") == newest_first[::-1]
    r = researcher.client.get("/api/studies", params={"patient_name": name, "limit": 1, "offset": 1})
    assert r.json()["total"] == 2 and [i["study_uid"] for i in r.json()["items"]] == newest_first[1:]


@pytest.mark.parametrize("params,field", [({"limit": "x"}, "limit"), ({"limit": 1000}, "limit"),
                                          ({"sort": "name"}, "sort"), ({"date_from": "yesterday"}, "date_from"),
                                          ({"patient_name": "*ovak"}, "PatientName")])
def test_bad_filters_get_a_422_naming_the_field(researcher, params, field):
    r = researcher.client.get("/api/studies", params=params)
    assert_problem(r, 422, "validation")
    assert r.json()["errors"][0]["field"] == field


def test_other_users_see_none_of_it(factory, library):
    other = factory.create("researcher")
    assert listed(other.client, patient_id=f"N-{library['tag']}") == []
    r = other.client.get(f"/api/studies/{library['uids']['ct_jan']}")
    assert_problem(r, 404, "not_found")


def test_deleting_needs_the_password_and_removes_the_study_everywhere(researcher, factory, archive):
    series = ct_series(Patient(name="TO^DELETE", patient_id=f"D-{uuid.uuid4().hex[:6]}"), slices=2, rows=32,
                       columns=32)
    assert stow(researcher.client, series).status_code == 200
    uid = str(series[0].StudyInstanceUID)
    other = factory.create("researcher")
    assert_problem(other.client.delete(f"/api/studies/{uid}", json={"password": STRONG_PASSWORD}), 404, "not_found")
    assert_problem(researcher.client.delete(f"/api/studies/{uid}", json={"password": "wrong-password-123"}),
                   401, "invalid_credentials")
    assert researcher.client.get(f"/api/studies/{uid}").status_code == 200

    assert researcher.client.delete(f"/api/studies/{uid}", json={"password": STRONG_PASSWORD}).status_code == 204
    assert_problem(researcher.client.get(f"/api/studies/{uid}"), 404, "not_found")
    assert researcher.client.get(f"/dicom-web/studies/{uid}/metadata").status_code == 404
    found = requests.post(archive.url + "/tools/lookup", data=uid, auth=tuple(archive.credentials), timeout=10)
    assert found.json() == []
    # Crypto-shredding: the wrapped study key and every sealed original went with the rows.
    from sqlalchemy import func, select

    from functions.common.dicom.index import Instance, Series, Study
    from functions.common.platform import db

    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Study).where(Study.study_uid == uid)) == 0
        sops = [str(d.SOPInstanceUID) for d in series]
        assert session.scalar(select(func.count()).select_from(Instance).where(Instance.sop_uid.in_(sops))) == 0
        assert session.scalar(select(func.count()).select_from(Series).where(
            Series.series_uid == str(series[0].SeriesInstanceUID))) == 0


def test_guessing_the_password_to_delete_a_study_is_throttled_like_sign_in(factory, limits):
    owner = factory.create("researcher")
    series = ct_series(Patient(name="KEEP^ME", patient_id=f"K-{uuid.uuid4().hex[:6]}"), slices=1, rows=16, columns=16)
    assert stow(owner.client, series).status_code == 200
    uid = str(series[0].StudyInstanceUID)
    for _ in range(limits.login_max_failures_account):
        wrong = owner.client.delete(f"/api/studies/{uid}", json={"password": "wrong-password-123"})
        assert_problem(wrong, 401, "invalid_credentials")

    locked = owner.client.delete(f"/api/studies/{uid}", json={"password": STRONG_PASSWORD})
    assert_problem(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= limits.login_window
    assert owner.client.get(f"/api/studies/{uid}").status_code == 200


def test_the_study_list_needs_an_approved_account(factory, client):
    pending = factory.create("health_professional", status="pending")
    assert_problem(pending.client.get("/api/studies"), 403, "account_pending")
    assert_problem(client.get("/api/studies"), 401, "not_authenticated")


def test_the_list_flags_studies_whose_images_may_hold_identifying_text(doctor):
    """BurnedInAnnotation YES, or an ultrasound that does not say: flagged for its readers (de-identification
    changes attributes, never pixels); a CT that does not say is not."""
    def stored(modality: str, burned_in: str | None) -> str:
        series = ct_series(Patient(name="FLAG^TEST", patient_id=f"FLAG-{uuid.uuid4().hex[:8]}"), slices=1,
                           rows=16, columns=16)
        for ds in series:
            ds.Modality = modality
            if burned_in:
                ds.BurnedInAnnotation = burned_in
        assert stow(doctor.client, series).status_code == 200
        return str(series[0].StudyInstanceUID)

    flags = {stored("CT", None): None, stored("US", None): "suspected", stored("CT", "YES"): "yes"}
    for study_uid, flag in flags.items():
        r = doctor.client.get(f"/api/studies/{study_uid}")
        assert r.status_code == 200 and r.json()["burned_in"] == flag, (flag, r.text[:300])
