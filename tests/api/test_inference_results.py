"""A study's AI results follow the study's permissions: who sees them, who deletes them, and that a deleted result
leaves neither the index nor the archive. Every route of the `inference` function is asked by the study's owner, a
colleague it is shared with to contribute (who ran the job), one it is shared with to read, another role, a
stranger and an anonymous caller."""

from __future__ import annotations

import uuid

import pytest
from mcc_local.dicomgen import Patient, ct_series

from functions.common.dicom.index import Instance
from functions.common.dicom.orthanc import orthanc
from functions.common.platform import db
from functions.inference.executor import Executor
from tests.support.dicomweb import stow
from tests.support.models import create_model, publish, template_files, wait_version
from tests.support.problem import assert_problem

pytestmark = pytest.mark.usefixtures("model_host", "empty_job_queue")


@pytest.fixture(scope="module")
def cast(factory):
    researcher, stranger = factory.create("researcher"), factory.create("health_professional")
    owner, colleague, reader = (factory.create("health_professional") for _ in range(3))
    model = create_model(researcher.client)
    assert publish(researcher.client, model["id"], template_files()).status_code == 202
    assert wait_version(researcher.client, model["id"], 1)["status"] == "ready"
    assert researcher.client.put(f"/api/shares/models/{model['id']}/publication", json={"version": 1}).status_code == 200
    series = ct_series(Patient(name="AI^RESULTS", patient_id=f"AI-{uuid.uuid4().hex[:8]}"), slices=8, rows=32,
                       columns=32)
    assert stow(owner.client, series).status_code == 200
    study = str(series[0].StudyInstanceUID)
    for account, level in ((colleague, "contribute"), (reader, "read")):
        r = owner.client.post(f"/api/shares/studies/{study}", json={"email": account.email, "level": level})
        assert r.status_code == 201, r.text
    return {"researcher": researcher, "stranger": stranger, "owner": owner, "colleague": colleague,
            "reader": reader, "model": model["id"], "study": study, "series": str(series[0].SeriesInstanceUID)}


def _done_job(cast, who: str) -> dict:
    """A job run by `who` on the study, done, with its SEG stored in the study."""
    r = cast[who].client.post("/api/inference/jobs", json={"model_id": cast["model"], "study_uid": cast["study"],
                                                           "series_uid": cast["series"]})
    assert r.status_code == 202, r.text
    assert Executor("executor-results").run_once()
    job = cast[who].client.get(f"/api/inference/jobs/{r.json()['id']}").json()
    assert job["status"] == "done", job
    return job


def _result_series(cast, account) -> list[str]:
    r = account.client.get(f"/dicom-web/studies/{cast['study']}/series", params={"Modality": "SEG"})
    return [s["0020000E"]["Value"][0] for s in r.json()] if r.status_code == 200 else []


def _study(cast) -> dict:
    return cast["owner"].client.get(f"/api/studies/{cast['study']}").json()


def test_a_result_is_seen_by_whoever_may_read_the_study_and_by_no_one_else(cast):
    job = _done_job(cast, "colleague")
    seg = job["result"]["instances"][0]["series_uid"]
    for who, may_delete in (("owner", True), ("colleague", True), ("reader", False)):
        listed = cast[who].client.get(f"/api/inference/jobs?study={cast['study']}").json()["items"]
        assert [j["may_delete"] for j in listed if j["id"] == job["id"]] == [may_delete], who
        assert cast[who].client.get(f"/api/inference/jobs/{job['id']}").json()["result"] == job["result"], who
        assert seg in _result_series(cast, cast[who]), who
    for who in ("stranger", "researcher"):  # no access to the study (the model's owner neither)
        assert_problem(cast[who].client.get(f"/api/inference/jobs?study={cast['study']}"), 404, "not_found")
        assert_problem(cast[who].client.get(f"/api/inference/jobs/{job['id']}"), 404, "not_found")
        r = cast[who].client.get(f"/dicom-web/studies/{cast['study']}/series/{seg}/metadata")
        assert r.status_code == 404, (who, r.status_code)


def test_anonymous_callers_get_401_on_every_route(cast, client):
    job = str(uuid.uuid4())
    for method, path in (("GET", f"/api/inference/models?study={cast['study']}&series={cast['series']}"),
                         ("POST", "/api/inference/jobs"), ("GET", f"/api/inference/jobs?study={cast['study']}"),
                         ("GET", f"/api/inference/jobs/{job}"), ("POST", f"/api/inference/jobs/{job}/cancel"),
                         ("DELETE", f"/api/inference/jobs/{job}")):
        assert_problem(client.request(method, path), 401, "not_authenticated")


def test_a_result_is_deleted_by_the_user_who_ran_it_or_the_studys_owner_only(cast):
    theirs, other = _done_job(cast, "colleague"), _done_job(cast, "colleague")
    before = _study(cast)
    assert_problem(cast["reader"].client.delete(f"/api/inference/jobs/{theirs['id']}"), 403, "not_result_owner")
    assert_problem(cast["stranger"].client.delete(f"/api/inference/jobs/{theirs['id']}"), 404, "not_found")
    assert_problem(cast["researcher"].client.delete(f"/api/inference/jobs/{theirs['id']}"), 404, "not_found")
    assert cast["colleague"].client.delete(f"/api/inference/jobs/{theirs['id']}").status_code == 204
    assert cast["owner"].client.delete(f"/api/inference/jobs/{other['id']}").status_code == 204
    for job in (theirs, other):
        assert_problem(cast["owner"].client.get(f"/api/inference/jobs/{job['id']}"), 404, "not_found")
        assert job["result"]["instances"][0]["series_uid"] not in _result_series(cast, cast["owner"])
    after = _study(cast)
    assert after["num_series"] == before["num_series"] - 2 and after["num_instances"] == before["num_instances"] - 2
    assert_problem(cast["owner"].client.delete(f"/api/inference/jobs/{theirs['id']}"), 404, "not_found")


def test_a_deleted_result_leaves_neither_the_index_nor_the_archive(cast):
    job = _done_job(cast, "owner")
    sop = job["result"]["instances"][0]["sop_uid"]
    with db.session_scope() as session:
        archive_id = session.query(Instance.orthanc_id).filter_by(sop_uid=sop).scalar()
    assert archive_id and orthanc().has_instance(archive_id)
    assert cast["owner"].client.delete(f"/api/inference/jobs/{job['id']}").status_code == 204
    with db.session_scope() as session:
        assert session.query(Instance).filter_by(sop_uid=sop).count() == 0
    assert not orthanc().has_instance(archive_id)


def test_a_job_still_running_is_cancelled_before_it_is_deleted(cast):
    r = cast["owner"].client.post("/api/inference/jobs", json={"model_id": cast["model"], "study_uid": cast["study"],
                                                               "series_uid": cast["series"]})
    job = r.json()
    assert_problem(cast["owner"].client.delete(f"/api/inference/jobs/{job['id']}"), 409, "job_active")
    assert cast["owner"].client.post(f"/api/inference/jobs/{job['id']}/cancel").status_code == 200
    assert cast["owner"].client.delete(f"/api/inference/jobs/{job['id']}").status_code == 204
