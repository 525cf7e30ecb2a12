"""The per-request session check (functions/common/security/signed_in.py) behind `PATIENT_DATA` and
`ACTIVE_ACCOUNT`: an access token stops opening patient data and the account the moment its session ends
or its account is deactivated, not when the token expires minutes later."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from tests.support.api_client import STRONG_PASSWORD, Account, AccountFactory, ApiClient
from tests.support.problem import assert_problem

ROUTES = ("/dicom-web/studies", "/api/studies", "/api/auth/me")  # the gateway, the studies function, the account


def api_session(factory: AccountFactory, account: Account) -> ApiClient:
    """A second sign-in of the account, as a script holds it: a Bearer access token."""
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD, "client": "api"})
    assert r.status_code == 200, r.text
    c.bearer = r.json()["access_token"]
    return c


def session_id(client: ApiClient) -> str:
    return next(s["id"] for s in client.get("/api/auth/sessions").json()["items"] if s["current"])


def sign_out(account: Account, token_holder: ApiClient, admin: Account) -> str:
    assert token_holder.post("/api/auth/logout").status_code == 200
    return "session_ended"


def revoke_from_another_session(account: Account, token_holder: ApiClient, admin: Account) -> str:
    assert account.client.delete(f"/api/auth/sessions/{session_id(token_holder)}").status_code == 204
    return "session_ended"


def deactivate(account: Account, token_holder: ApiClient, admin: Account) -> str:
    assert admin.client.post(f"/api/auth/admin/users/{account.id}/deactivate").status_code == 200
    return "account_inactive"


@pytest.mark.parametrize("end", [sign_out, revoke_from_another_session, deactivate], ids=lambda f: f.__name__)
def test_an_access_token_loses_access_at_once_when_its_session_ends(factory: AccountFactory, admin: Account,
                                                                    end: Callable[..., str]) -> None:
    account = factory.create("health_professional")
    holder = api_session(factory, account)
    token = holder.bearer
    for path in ROUTES:
        assert holder.get(path).status_code == 200, path

    code = end(account, holder, admin)

    replay = factory.client()
    replay.bearer = token  # the very same token, minutes from its expiry
    for path in ROUTES:
        assert_problem(replay.get(path), 401, code)


def test_a_browser_session_cookie_replayed_after_sign_out_opens_nothing(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    old_cookies = dict(account.client.cookies)
    assert account.client.post("/api/auth/logout").status_code == 200
    replay = factory.client()
    replay.cookies.update(old_cookies)
    for path in ROUTES:
        assert_problem(replay.get(path), 401, "session_ended")


def test_other_sessions_of_the_account_keep_their_access(factory: AccountFactory) -> None:
    account = factory.create("health_professional")
    holder = api_session(factory, account)
    assert holder.post("/api/auth/logout").status_code == 200
    for path in ROUTES:
        assert account.client.get(path).status_code == 200, path


def test_the_check_survives_postgresql_dropping_its_connections(researcher) -> None:
    from functions.common.platform import db
    from functions.common.security.signed_in import APPLICATION_NAME

    assert researcher.client.get("/api/studies").status_code == 200
    with db.session_scope() as session:
        dropped = session.scalar(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE application_name = :name"), {"name": APPLICATION_NAME})
    assert dropped >= 1
    assert researcher.client.get("/api/studies").status_code == 200
