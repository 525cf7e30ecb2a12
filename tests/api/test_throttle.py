"""Sign-in throttling (functions/auth/throttle.py): per account (known or not) and per client address."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api_client import STRONG_PASSWORD, AccountFactory, ApiClient
from tests.support.problem import assert_problem

WRONG_PASSWORD = "Not-the-password-at-all-99"


@pytest.fixture(scope="module")
def limits(origin: str):
    from functions.common.platform.config import get_settings

    return get_settings()


def login(client: ApiClient, email: str, password: str):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def fail(client: ApiClient, email: str, times: int) -> None:
    for attempt in range(times):
        r = login(client, email, WRONG_PASSWORD)
        assert r.status_code == 401, f"attempt {attempt + 1}: {r.status_code} {r.text}"


def assert_locked(r, window: int) -> dict:
    body = assert_problem(r, 429, "too_many_attempts")
    assert 0 < int(r.headers["Retry-After"]) <= window
    assert "mcc_access" not in r.cookies
    return body


def test_account_is_locked_after_too_many_failures_even_with_the_right_password(factory: AccountFactory,
                                                                                limits) -> None:
    account = factory.create("researcher")
    attacker = factory.client()
    fail(attacker, account.email, limits.login_max_failures_account)

    assert_locked(login(attacker, account.email, STRONG_PASSWORD), limits.login_window)
    assert_locked(login(factory.client(), account.email, STRONG_PASSWORD), limits.login_window)
    assert account.client.get("/api/auth/me").status_code == 200  # existing sessions are not ended


def test_unknown_email_is_locked_the_same_way(factory: AccountFactory, limits) -> None:
    known = factory.create("researcher")
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.org"
    attacker = factory.client()
    fail(attacker, known.email, limits.login_max_failures_account)
    fail(attacker, unknown, limits.login_max_failures_account)

    known_locked = login(attacker, known.email, STRONG_PASSWORD)
    unknown_locked = login(attacker, unknown, STRONG_PASSWORD)
    assert assert_locked(known_locked, limits.login_window) == assert_locked(unknown_locked, limits.login_window)


def test_another_account_from_the_same_address_still_signs_in(factory: AccountFactory, limits) -> None:
    locked, other = factory.create("researcher"), factory.create("researcher")
    attacker = factory.client()
    fail(attacker, locked.email, limits.login_max_failures_account)
    assert_locked(login(attacker, locked.email, STRONG_PASSWORD), limits.login_window)
    assert login(attacker, other.email, STRONG_PASSWORD).json()["status"] == "ok"


def test_successful_sign_in_forgives_the_accounts_earlier_failures(factory: AccountFactory, limits) -> None:
    account = factory.create("researcher")
    c = factory.client()
    fail(c, account.email, limits.login_max_failures_account - 1)
    assert login(c, account.email, STRONG_PASSWORD).status_code == 200
    fail(c, account.email, limits.login_max_failures_account - 1)
    assert login(c, account.email, STRONG_PASSWORD).status_code == 200


def test_address_is_locked_across_accounts_after_too_many_failures(factory: AccountFactory, limits) -> None:
    victim = factory.create("researcher")
    attacker = factory.client()
    per_account = limits.login_max_failures_account - 1  # stay under every account's limit
    tag = uuid.uuid4().hex[:8]
    for n in range(limits.login_max_failures_ip):
        r = login(attacker, f"probe-{tag}-{n // per_account}@example.org", WRONG_PASSWORD)
        assert r.status_code == 401, f"attempt {n + 1}: {r.status_code} {r.text}"

    assert_locked(login(attacker, victim.email, STRONG_PASSWORD), limits.login_window)
    assert login(factory.client(), victim.email, STRONG_PASSWORD).json()["status"] == "ok"
