"""Reads of studies and models the caller may not see are audited (and still answered like unknown
ones), at most REFUSALS_PER_WINDOW per user and window, so probing cannot flood the audit log."""

from __future__ import annotations

import uuid

from mcc_local.dicomgen import Patient, ct_series

from functions.common.ai_models.tables import AiModel
from functions.common.platform import db
from functions.common.security.audit import REFUSALS_PER_WINDOW
from tests.support.dicomweb import stow
from tests.support.problem import assert_problem
from tests.support.records import audit_events


def _study(owner) -> str:
    series = ct_series(Patient(name="REFUSED^READ", patient_id=f"RR-{uuid.uuid4().hex[:8]}"), slices=1, rows=16,
                       columns=16)
    assert stow(owner.client, series).status_code == 200
    return str(series[0].StudyInstanceUID)


def test_a_read_of_someone_elses_study_is_refused_like_an_unknown_one_and_audited(factory, doctor):
    uid = _study(doctor)
    stranger = factory.create("health_professional")
    unknown = f"2.25.{uuid.uuid4().int}"
    for path in (f"/dicom-web/studies/{uid}/metadata", f"/api/studies/{uid}", f"/api/access/studies/{uid}"):
        assert_problem(stranger.client.get(path), 404, "not_found")
    assert_problem(stranger.client.get(f"/dicom-web/studies/{unknown}/metadata"), 404, "not_found")
    rows = audit_events("access_refused", actor_id=stranger.id)
    assert [(r.target, r.details["exists"], r.outcome) for r in rows] == [
        (f"study:{uid}", True, "failure")] * 3 + [(f"study:{unknown}", False, "failure")]
    assert all(r.client_ip for r in rows)
    assert audit_events("access_refused", actor_id=doctor.id) == []  # the owner's own reads are not refusals


def test_a_read_of_someone_elses_model_is_audited(factory, researcher):
    model_id = uuid.uuid4()
    with db.session_scope() as session:
        session.add(AiModel(id=model_id, owner_id=uuid.UUID(researcher.id), name="private model"))
    stranger = factory.create("researcher")
    assert_problem(stranger.client.get(f"/api/access/models/{model_id}"), 404, "not_found")
    (row,) = audit_events("access_refused", actor_id=stranger.id)
    assert row.target == f"model:{model_id}" and row.details == {"exists": True}


def test_refusals_are_recorded_up_to_a_limit_per_user(factory, doctor):
    uid = _study(doctor)
    prober, other = factory.create("health_professional"), factory.create("health_professional")
    for _ in range(REFUSALS_PER_WINDOW + 5):
        assert_problem(prober.client.get(f"/dicom-web/studies/{uid}/metadata"), 404, "not_found")
    rows = audit_events("access_refused", actor_id=prober.id)
    assert len(rows) == REFUSALS_PER_WINDOW
    assert rows[-1].details == {"exists": True, "limit_reached": True}
    assert_problem(other.client.get(f"/dicom-web/studies/{uid}/metadata"), 404, "not_found")
    assert len(audit_events("access_refused", actor_id=other.id)) == 1  # the limit is per user


def test_anonymous_and_unapproved_callers_are_refused_before_any_lookup(factory, doctor, client):
    uid = _study(doctor)
    assert_problem(client.get(f"/dicom-web/studies/{uid}/metadata"), 401, "not_authenticated")
    pending = factory.create("health_professional", status="pending")
    assert_problem(pending.client.get(f"/dicom-web/studies/{uid}/metadata"), 403, "account_pending")
    assert audit_events("access_refused", actor_id=pending.id) == []
