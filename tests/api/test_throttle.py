"""Password-guessing throttling (functions/common/security/throttle.py): per account (known or not) and per client
address, for sign-in and for re-authentication before sensitive actions, which share one budget."""

from __future__ import annotations

import uuid

from tests.support.api_client import ACCESS_COOKIE, STRONG_PASSWORD, AccountFactory, ApiClient
from tests.support.problem import assert_problem
from tests.support.records import audit_events

WRONG_PASSWORD = "Not-the-password-at-all-99"
NEW_PASSWORD = "Quartz-heron-paints-41-lanterns"


def login(client: ApiClient, email: str, password: str):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def fail(client: ApiClient, email: str, times: int) -> None:
    for attempt in range(times):
        r = login(client, email, WRONG_PASSWORD)
        assert r.status_code == 401, f"attempt {attempt + 1}: {r.status_code} {r.text}"


def assert_locked(r, window: int) -> dict:
    body = assert_problem(r, 429, "too_many_attempts")
    assert 0 < int(r.headers["Retry-After"]) <= window
    assert ACCESS_COOKIE not in r.cookies
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


# ---------------------------------------------------------------- re-authentication (passwords.require_password)
def change_password(client: ApiClient, current: str):
    return client.post("/api/auth/password/change", json={"current_password": current, "new_password": NEW_PASSWORD})


def test_wrong_passwords_at_re_authentication_lock_it_and_sign_in_like_failed_sign_ins(factory: AccountFactory,
                                                                                      limits) -> None:
    """A stolen session gets no password guesses of its own: re-authentication spends the sign-in budget."""
    account = factory.create("researcher")
    for _ in range(limits.login_max_failures_account):
        assert_problem(change_password(account.client, WRONG_PASSWORD), 401, "invalid_credentials")

    assert_locked(change_password(account.client, STRONG_PASSWORD), limits.login_window)
    r = account.client.post("/api/auth/email/change", json={"password": STRONG_PASSWORD,
                                                            "new_email": f"new-{uuid.uuid4().hex[:8]}@example.org"})
    assert_locked(r, limits.login_window)
    assert_locked(login(factory.client(), account.email, STRONG_PASSWORD), limits.login_window)
    failures = audit_events("reauth", actor_id=account.id)
    assert len(failures) == limits.login_max_failures_account and {e.outcome for e in failures} == {"failure"}
    assert account.client.get("/api/auth/me").status_code == 200  # the session itself goes on


def test_an_address_locked_by_failed_sign_ins_cannot_re_authenticate(factory: AccountFactory, limits) -> None:
    account = factory.create("researcher")
    same_address = ApiClient(account.client.origin, ca=account.client.verify, address=account.client.address)
    per_account = limits.login_max_failures_account - 1  # stay under every account's limit
    tag = uuid.uuid4().hex[:8]
    for n in range(limits.login_max_failures_ip):
        assert login(same_address, f"probe-{tag}-{n // per_account}@example.org", WRONG_PASSWORD).status_code == 401

    setup = {"password": STRONG_PASSWORD}
    assert_locked(account.client.post("/api/auth/2fa/totp/setup", json=setup), limits.login_window)
    elsewhere = factory.login(account.email)
    assert elsewhere.post("/api/auth/2fa/totp/setup", json=setup).status_code == 200
