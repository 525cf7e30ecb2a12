"""The request pipeline every function shares (functions/common/http/): routing errors, bodies, headers,
and the public keys that let other functions verify access tokens."""

from __future__ import annotations

import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from functions.common.http.bodies import NUL_MESSAGE
from tests.support.api_client import STRONG_PASSWORD, Account, AccountFactory, ApiClient
from tests.support.problem import assert_problem


def test_unknown_endpoint_is_a_404_problem(client: ApiClient) -> None:
    assert_problem(client.get("/api/auth/no-such-thing"), 404, "not_found")


def test_wrong_method_is_a_405_problem_naming_the_allowed_ones(client: ApiClient) -> None:
    r = client.put("/api/auth/login", json={})
    body = assert_problem(r, 405, "method_not_allowed")
    assert body["title"] == "Method not allowed"
    assert "POST" in r.headers["Allow"]


def test_request_id_is_echoed_or_made_up(client: ApiClient) -> None:
    assert client.get("/api/auth/healthz", headers={"X-Request-ID": "trace-42.a_b"}).headers["X-Request-ID"] == \
        "trace-42.a_b"
    made_up = client.get("/api/auth/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"]
    assert made_up != "bad id\twith spaces" and len(made_up) == 32


def test_api_answers_are_not_cached_and_not_sniffed(client: ApiClient) -> None:
    r = client.post("/api/auth/login", json={"email": "x@example.org", "password": "x"})
    assert r.headers["Cache-Control"] == "no-store" and "nosniff" in r.headers["X-Content-Type-Options"]


def test_post_without_a_body_is_an_empty_object(client: ApiClient) -> None:
    problem = assert_problem(client.post("/api/auth/signup"), 422, "validation")
    assert sorted(e["field"] for e in problem["errors"]) == ["email", "name", "password", "role"]
    r = client.post("/api/auth/signup", data=b'{"email": "a@b.co"}', headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported_type")
    assert_problem(client.post("/api/auth/signup", data=b'{"email": "a@b.co"}', headers={"Content-Type": ""}), 415,
                   "unsupported_type")


def test_json_body_must_be_an_object(client: ApiClient) -> None:
    for body in ([], "text", 42, False):
        problem = assert_problem(client.post("/api/auth/password/forgot", json=body), 422, "validation")
        assert problem["errors"] == [{"field": "body", "message": "must be of type object"}]


def test_optional_fields_are_optional(client: ApiClient) -> None:
    """Routes that declare no required field accept any subset of their fields."""
    assert_problem(client.post("/api/auth/login/mfa", json={"code": "123456"}), 401, "mfa_expired")
    assert_problem(client.post("/api/auth/token/refresh", json={}), 401, "invalid_token")


def test_jwks_publishes_the_key_that_signs_access_tokens(factory: AccountFactory, client: ApiClient) -> None:
    account = factory.create("researcher")
    r = client.get("/api/auth/.well-known/jwks.json")
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    keys = r.json()["keys"]
    assert keys and all("d" not in k for k in keys), "only public keys"
    login = client.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD,
                                                 "client": "api"}).json()
    claims = jwt.decode(login["access_token"], KeySet.import_key_set(r.json())).claims
    assert claims["sub"] == account.id and claims["typ"] == "access" and uuid.UUID(claims["sid"])


# ------------------------------------------------------- found by the fuzzer (tests/api/test_fuzz_openapi.py)
@pytest.mark.parametrize("path, body, field", [
    ("/api/auth/password/forgot", {"email": "nul\u0000@example.org"}, "email"),
    ("/api/auth/signup", {"email": "nul-name@example.org", "name": "Nul\u0000", "password": STRONG_PASSWORD,
                          "role": "researcher"}, "name"),
])
def test_text_with_a_nul_character_is_refused_by_field(client: ApiClient, path: str, body: dict, field: str) -> None:
    """PostgreSQL takes no U+0000 in text: such a body was a 500."""
    problem = assert_problem(client.post(path, json=body), 422, "validation")
    assert problem["errors"] == [{"field": field, "message": NUL_MESSAGE}]


def test_a_query_value_with_a_nul_character_is_refused_by_name(doctor: Account) -> None:
    problem = assert_problem(doctor.client.get("/api/studies", params={"modality": "CT\x00"}), 422, "validation")
    assert problem["errors"] == [{"field": "modality", "message": NUL_MESSAGE}]


@pytest.mark.parametrize("path", ["/dicom-web/studies/1.2%0A3/metadata", "/api/groups/a%0Ab"])
def test_a_path_with_a_line_break_gets_the_pipeline_s_answers(client: ApiClient, doctor: Account, path: str) -> None:
    """functions-framework's catch-all route does not match a line break: Flask answered with an HTML page."""
    assert_problem(client.get(path), 401, "not_authenticated")
    assert_problem(doctor.client.get(path), 404, "not_found")
