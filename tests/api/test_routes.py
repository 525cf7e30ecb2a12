"""What routes declare, enforced by the pipeline: access requirements (patient data) and the kinds
of their path parameters (DICOM UIDs, ids, frame lists), checked after authentication."""

from __future__ import annotations

import uuid

import pytest

from functions.auth.views import api as auth_api
from functions.common.access.requirements import PATIENT_DATA
from functions.dicomweb import qido, rendering
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
    assert {api.prefix + r.rule for r in api.routes if r.access.public} == {
        api.home + "/healthz", api.home + "/readyz", api.home + "/openapi.json"}


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


@pytest.mark.parametrize("home", ["/api/auth", "/dicom-web", "/api/studies", "/api/sharing"])
def test_every_function_serves_its_document_and_health_on_the_origin(client, home):
    """Found by the fuzzer: sharing's were at /api/openapi.json, which the origin sends to no function."""
    doc = client.get(home + "/openapi.json")
    assert doc.status_code == 200 and doc.json()["openapi"] == "3.1.0"
    assert client.get(home + "/healthz").json() == {"status": "ok"}
    assert client.get(home + "/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize("api, path, method, status, media_types", [
    (sharing_api, "/api/groups", "post", "201", ["application/json"]),
    (sharing_api, "/api/groups/{group_id}", "delete", "204", None),
    (auth_api, "/api/auth/signup", "post", "202", ["application/json"]),
    (auth_api, "/api/auth/oauth/{name}/start", "get", "302", None),
    (studies_api, "/api/studies/{study_uid}", "delete", "204", None),
    (dicomweb_api, "/dicom-web/studies/{study}/series/{series}/thumbnail", "get", "200", ["image/jpeg", "image/png"]),
])
def test_the_document_declares_each_route_s_answer_and_problems(api, path, method, status, media_types):
    """Found by the fuzzer: 201, 202, 204 and 302 answers were undocumented (only 200, and problems by default)."""
    responses = api.openapi()["paths"][path][method]["responses"]
    assert set(responses) == {status, "4XX", "5XX"}
    assert (list(responses[status]["content"]) if media_types else responses[status].get("content")) == media_types
    assert responses["4XX"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_gateway_documents_the_query_parameters_it_reads():
    paths = dicomweb_api.openapi()["paths"]
    declared = {p["name"] for p in paths["/dicom-web/studies"]["get"]["parameters"]}
    assert declared == set(qido.STUDY_QUERY) >= {"PatientName", "00100010", "limit", "offset", "includefield"}
    rendered = paths["/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{frames}/rendered"]["get"]
    assert {p["name"] for p in rendered["parameters"] if p["in"] == "query"} == set(rendering.QUERY) == {
        "viewport", "quality", "window", "iccprofile"}
