"""Who may call what (functions/common/http/ Access rules, functions/auth/requirements.py), for every route the auth
function declares: routes added later are covered without touching this file."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from jsonschema import Draft202012Validator

from functions.auth.requirements import ADMIN as ADMIN_ACCESS
from functions.auth.views import api
from functions.common.http import UNSAFE_METHODS, Route
from tests.support.api_client import Account, AccountFactory, ApiClient
from tests.support.json_examples import example
from tests.support.problem import assert_problem

_PARAM = re.compile(r"<(?:[^:>]+:)?[^>]+>")


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: Route

    @property
    def has_params(self) -> bool:
        return bool(_PARAM.search(self.route.rule))

    def url(self) -> str:
        """The route's path with every path parameter a fresh random UUID."""
        return api.prefix + _PARAM.sub(lambda _: str(uuid.uuid4()), self.route.rule)

    def call(self, client: ApiClient, body: dict | None = None):
        if self.method in UNSAFE_METHODS:
            return client.request(self.method, self.url(), json={} if body is None else body)
        return client.request(self.method, self.url())

    def __str__(self) -> str:
        return f"{self.method} {self.route.rule}"


ENDPOINTS = [Endpoint(method, route) for route in api.routes for method in route.methods]
PROTECTED = [e for e in ENDPOINTS if not e.route.access.public]
ADMIN = [e for e in ENDPOINTS if e.route.access is ADMIN_ACCESS]
NON_ADMINS = {  # caller → the problem code an admin route answers them
    "researcher": "forbidden",
    "active professional": "forbidden",
    "pending professional": "forbidden",
    "admin without TOTP": "mfa_enrolment_required",
}


def valid_body(endpoint: Endpoint) -> dict | None:
    schema = endpoint.route.body
    if schema is None:
        return None
    body = example(schema)
    Draft202012Validator(schema).validate(body)
    return body


@pytest.fixture(scope="module")
def callers(factory: AccountFactory) -> dict[str, ApiClient]:
    return {
        "researcher": factory.create("researcher").client,
        "active professional": factory.create("health_professional", status="active").client,
        "pending professional": factory.create("health_professional", status="pending").client,
        "admin without TOTP": factory.create("admin").client,
    }


def test_the_matrix_sees_the_auth_functions_routes() -> None:
    rules = {str(e) for e in ENDPOINTS}
    assert {"GET /me", "POST /logout", "GET /admin/users", "GET /admin/audit/verify"} <= rules
    assert len(ADMIN) >= 9 and len(PROTECTED) > len(ADMIN)


@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
def test_protected_route_refuses_anonymous_callers(client: ApiClient, endpoint: Endpoint) -> None:
    assert_problem(endpoint.call(client), 401, "not_authenticated")


@pytest.mark.parametrize("caller", NON_ADMINS)
@pytest.mark.parametrize("endpoint", ADMIN, ids=str)
def test_admin_route_refuses_everyone_but_an_admin_signed_in_with_totp(callers: dict[str, ApiClient], caller: str,
                                                                       endpoint: Endpoint) -> None:
    assert_problem(endpoint.call(callers[caller]), 403, NON_ADMINS[caller])


@pytest.mark.parametrize("endpoint", ADMIN, ids=str)
def test_admin_route_answers_an_admin_signed_in_with_totp(admin: Account, endpoint: Endpoint) -> None:
    r = endpoint.call(admin.client, valid_body(endpoint))
    if endpoint.has_params:
        assert_problem(r, 404, "not_found")
    else:
        assert 200 <= r.status_code < 300, r.text
