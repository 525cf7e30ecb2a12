"""What routes declare, enforced by the pipeline: access requirements (patient data) and the kinds
of their path parameters (DICOM UIDs, ids, frame lists), checked after authentication."""

from __future__ import annotations

import uuid

import pytest

from functions.common.access.requirements import PATIENT_DATA
from functions.dicomweb.views import api as dicomweb_api
from functions.sharing.views import api as sharing_api
from functions.studies.views import api as studies_api
from tests.support.problem import assert_problem

UNKNOWN_UID = "1.2.826.0.1.3680043.8.498.1"


@pytest.fixture(scope="module")
def doctor(factory):
    return factory.create("health_professional")


@pytest.mark.parametrize("api", [dicomweb_api, studies_api, sharing_api], ids=lambda a: a.name)
def test_every_route_of_the_patient_data_functions_requires_patient_data_access(api):
    declared = {r.access for r in api.routes if not r.access.public}
    assert declared == {PATIENT_DATA}
    assert {r.rule for r in api.routes if r.access.public} == {"/healthz", "/readyz", "/openapi.json"}


@pytest.mark.parametrize("path", ["/dicom-web/studies/not-a-uid/metadata", "/api/studies/1.2.x",
                                  "/api/groups/not-a-uuid", "/api/shares/studies/1..2"])
def test_a_malformed_path_parameter_is_checked_after_authentication(client, path):
    assert_problem(client.get(path), 401, "not_authenticated")


@pytest.mark.parametrize("malformed, unknown, detail", [
    ("/dicom-web/studies/not-a-uid/metadata", f"/dicom-web/studies/{UNKNOWN_UID}/metadata", "No such study."),
    ("/dicom-web/studies/1.2/series/01.2/metadata", f"/dicom-web/studies/{UNKNOWN_UID}/series/1.2/metadata", None),
    ("/api/studies/1.2.x", f"/api/studies/{UNKNOWN_UID}", "No such study."),
    ("/api/groups/not-a-uuid", f"/api/groups/{uuid.uuid4()}", "No such group."),
    ("/api/shares/models/not-a-uuid", f"/api/shares/models/{uuid.uuid4()}", "No such model."),
    ("/api/access/studies/" + "1" * 65, f"/api/access/studies/{UNKNOWN_UID}", "No such study."),
])
def test_a_malformed_id_is_answered_like_an_unknown_one(doctor, malformed, unknown, detail):
    bad = assert_problem(doctor.client.get(malformed), 404, "not_found")
    assert_problem(doctor.client.get(unknown), 404, "not_found")
    if detail:
        assert bad["detail"] == detail


def test_frame_numbers_are_a_list_of_positive_integers(doctor):
    base = f"/dicom-web/studies/{UNKNOWN_UID}/series/1.2/instances/1.2.3/frames/"
    problem = assert_problem(doctor.client.get(base + "0"), 404, "not_found")
    assert problem["detail"] == "Frame numbers are a comma-separated list of positive integers."
    assert assert_problem(doctor.client.get(base + "1,2"), 404, "not_found")["detail"] == "No such study."


@pytest.mark.parametrize("status, code", [("pending", "account_pending")])
def test_the_requirement_is_checked_before_anything_else_of_the_route(factory, status, code):
    pending = factory.create("health_professional", status=status)
    assert_problem(pending.client.get("/dicom-web/studies/not-a-uid/metadata"), 403, code)
    assert_problem(pending.client.post("/dicom-web/studies", data=b"x", headers={"Content-Type": "text/plain"}),
                   403, code)


def test_openapi_documents_the_requirement_and_the_parameter_kinds(client):
    doc = client.get("/dicom-web/openapi.json").json()
    op = doc["paths"]["/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{frames}"]["get"]
    assert op["x-access"] == "patient_data"
    kinds = {p["name"]: p["schema"] for p in op["parameters"]}
    assert kinds["study"]["pattern"] == kinds["sop"]["pattern"] == r"^[0-9]+(\.[0-9]+)*$"
    assert "pattern" in kinds["frames"]
    group = sharing_api.openapi()["paths"]["/api/groups/{group_id}"]["get"]
    assert group["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
