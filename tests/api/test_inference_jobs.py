"""Queueing model runs through the `inference` function: who may run which model on which series, the job's
life before an executor takes it (queued, cancelled), a user's share of the queue, and what bad input gets."""

from __future__ import annotations

import uuid

import pytest
from mcc_local.dicomgen import Patient, ct_series

from functions.inference import runs
from tests.support.dicomweb import stow
from tests.support.models import create_model, publish, template_files, wait_version
from tests.support.problem import assert_problem

pytestmark = pytest.mark.usefixtures("model_host", "empty_job_queue")


@pytest.fixture(scope="module")
def cast(factory):
    owner, user, stranger = (factory.create("researcher") for _ in range(3))
    doctor, reader = factory.create("health_professional"), factory.create("health_professional")
    model = create_model(owner.client)
    assert publish(owner.client, model["id"], template_files()).status_code == 202
    assert wait_version(owner.client, model["id"], 1)["status"] == "ready"
    assert owner.client.post(f"/api/shares/models/{model['id']}", json={"email": user.email,
                                                                       "level": "use"}).status_code == 201
    assert owner.client.put(f"/api/shares/models/{model['id']}/publication", json={"version": 1}).status_code == 200
    series = ct_series(Patient(name="AI^RUN", patient_id=f"AI-{uuid.uuid4().hex[:8]}"), slices=4, rows=32, columns=32)
    assert stow(doctor.client, series).status_code == 200
    study, series_uid = str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID)
    r = doctor.client.post(f"/api/shares/studies/{study}", json={"email": reader.email, "level": "read"})
    assert r.status_code == 201, r.text
    return {"owner": owner, "user": user, "stranger": stranger, "doctor": doctor, "reader": reader,
            "model": model["id"], "study": study, "series": series_uid}


def _models(account, cast):
    return account.client.get(f"/api/inference/models?study={cast['study']}&series={cast['series']}")


def _run(account, cast, model_id=None):
    return account.client.post("/api/inference/jobs", json={"model_id": model_id or cast["model"],
                                                            "study_uid": cast["study"], "series_uid": cast["series"]})


def test_a_health_professional_may_run_the_published_version_on_their_series(cast):
    items = _models(cast["doctor"], cast).json()["items"]
    mine = next(m for m in items if m["model_id"] == cast["model"])
    assert mine["version"] == 1 and mine["modality_match"] and mine["task"] == "processing"
    r = _run(cast["doctor"], cast)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["version"] == 1 and job["user"]["id"] == cast["doctor"].id
    assert len(job["digest"]) == 64 and job["result"] is None
    listed = cast["doctor"].client.get(f"/api/inference/jobs?study={cast['study']}").json()["items"]
    assert job["id"] in [j["id"] for j in listed]
    assert cast["reader"].client.get(f"/api/inference/jobs/{job['id']}").json()["status"] == "queued"


def test_who_may_see_and_run_what(cast):
    assert_problem(_models(cast["stranger"], cast), 404, "not_found")  # not their study
    assert_problem(_run(cast["reader"], cast), 403, "cannot_store_results")  # may read, may not add results
    assert_problem(_run(cast["stranger"], cast), 404, "not_found")
    assert_problem(_run(cast["doctor"], cast, str(uuid.uuid4())), 404, "not_found")
    other = create_model(cast["owner"].client, name="Not published")  # no version the doctor may run
    assert other["id"] not in [m["model_id"] for m in _models(cast["doctor"], cast).json()["items"]]
    assert_problem(_run(cast["doctor"], cast, other["id"]), 404, "not_found")


def test_cancel_is_for_the_user_who_ran_the_job(cast):
    job = _run(cast["doctor"], cast).json()
    assert_problem(cast["reader"].client.post(f"/api/inference/jobs/{job['id']}/cancel"), 403, "not_job_owner")
    r = cast["doctor"].client.post(f"/api/inference/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(cast["doctor"].client.post(f"/api/inference/jobs/{job['id']}/cancel"), 409, "job_finished")
    assert_problem(cast["stranger"].client.get(f"/api/inference/jobs/{job['id']}"), 404, "not_found")


def test_a_user_may_not_fill_the_queue(cast):
    for _ in range(runs.JOBS_PER_USER):
        assert _run(cast["doctor"], cast).status_code == 202
    r = _run(cast["doctor"], cast)
    assert_problem(r, 429, "too_many_jobs")
    assert r.headers["Retry-After"] == "10"


def test_bad_input_is_refused_with_the_field(cast, client):
    r = cast["doctor"].client.get(f"/api/inference/models?study=abc&series={cast['series']}")
    assert_problem(r, 422, "validation")
    r = cast["doctor"].client.post("/api/inference/jobs", json={"model_id": cast["model"], "study_uid": "x"})
    assert_problem(r, 422, "validation")
    assert client.get(f"/api/inference/jobs?study={cast['study']}").status_code == 401
