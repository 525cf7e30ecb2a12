"""Guessing throttling (functions/common/security/throttle.py): per account (known or not) and per client address,
for sign-in (password and second factor), re-authentication before sensitive actions and every other check of a
TOTP or recovery code, which all share one budget."""

from __future__ import annotations

import math
import uuid

import pytest
from sqlalchemy import select

from tests.support.api_client import (
    ACCESS_COOKIE,
    STRONG_PASSWORD,
    Account,
    AccountFactory,
    ApiClient,
    documentation_address,
)
from tests.support.authenticator import Authenticator, enrol
from tests.support.problem import assert_problem
from tests.support.records import audit_events, scalars, user_row

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


# ---------------------------------------------------------------- second-factor codes (totp.require_second_factor)
STEP_UPS = ["/api/auth/2fa/totp/disable", "/api/auth/2fa/recovery-codes"]


def step_up(account: Account, route: str, code: str):
    """A step-up that asks for the right password and a TOTP code."""
    return account.client.post(route, json={"password": STRONG_PASSWORD, "code": code})


def recovery_code_hashes(account: Account) -> set[bytes]:
    from functions.common.accounts.tables import RecoveryCode

    return set(scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == uuid.UUID(account.id))))


def enrolled(factory: AccountFactory, *, address: str | None = None) -> tuple[Account, Authenticator]:
    """A fresh researcher with TOTP on whose session then sends its requests from `address`, if given."""
    account = factory.create("researcher")
    app = enrol(account)
    if address:
        account.client.address = account.client.headers["X-Forwarded-For"] = address
    return account, app


@pytest.mark.parametrize("route", STEP_UPS)
def test_wrong_codes_at_a_step_up_lock_it_and_sign_in_like_failed_second_steps(factory: AccountFactory, limits,
                                                                               route: str) -> None:
    """A stolen session and password get no code guesses of their own: wrong codes spend the sign-in budget."""
    account, app = enrolled(factory)
    codes_before = recovery_code_hashes(account)
    for _ in range(limits.login_max_failures_account):
        assert_problem(step_up(account, route, app.wrong_code()), 401, "invalid_code")

    assert_locked(step_up(account, route, app.code()), limits.login_window)
    assert_locked(login(factory.client(), account.email, STRONG_PASSWORD), limits.login_window)
    assert user_row(account.email).totp_enabled and recovery_code_hashes(account) == codes_before
    assert len(audit_events("totp_failed", actor_id=account.id)) == limits.login_max_failures_account


@pytest.mark.parametrize("route", STEP_UPS)
def test_wrong_codes_at_a_step_up_lock_the_address_across_accounts(factory: AccountFactory, limits,
                                                                   route: str) -> None:
    address = documentation_address()
    per_account = limits.login_max_failures_account - 1  # stay under every account's limit
    guessers = [enrolled(factory, address=address) for _ in range(math.ceil(limits.login_max_failures_ip / per_account))]
    victim, app = enrolled(factory, address=address)
    for n in range(limits.login_max_failures_ip):
        account, guesser_app = guessers[n // per_account]
        assert_problem(step_up(account, route, guesser_app.wrong_code()), 401, "invalid_code")

    assert_locked(step_up(victim, route, app.code()), limits.login_window)
    victim.client.address = victim.client.headers["X-Forwarded-For"] = documentation_address()
    assert step_up(victim, route, app.code()).status_code == 200  # the same session from another address


@pytest.mark.parametrize("route", STEP_UPS)
def test_a_right_code_at_a_step_up_forgives_the_account_but_not_the_address(factory: AccountFactory, limits,
                                                                            route: str) -> None:
    """As a completed sign-in does (`throttle.clear_account`)."""
    account, app = enrolled(factory)
    below = limits.login_max_failures_account - 1
    for _ in range(below):
        assert_problem(step_up(account, route, app.wrong_code()), 401, "invalid_code")
    assert step_up(account, route, app.code()).status_code == 200

    fail(factory.client(), account.email, below)
    assert login(factory.client(), account.email, STRONG_PASSWORD).status_code == 200

    same_address = ApiClient(account.client.origin, ca=account.client.verify, address=account.client.address)
    tag = uuid.uuid4().hex[:8]
    for n in range(limits.login_max_failures_ip - below):
        assert login(same_address, f"probe-{tag}-{n // below}@example.org", WRONG_PASSWORD).status_code == 401
    assert_locked(login(same_address, account.email, STRONG_PASSWORD), limits.login_window)


def test_wrong_codes_at_totp_confirmation_lock_it_like_failed_second_steps(factory: AccountFactory,
                                                                          limits) -> None:
    account = factory.create("researcher")
    r = account.client.post("/api/auth/2fa/totp/setup", json={"password": STRONG_PASSWORD})
    app = Authenticator(r.json()["secret"])
    for _ in range(limits.login_max_failures_account):
        r = account.client.post("/api/auth/2fa/totp/confirm", json={"code": app.wrong_code()})
        assert_problem(r, 401, "invalid_code")

    assert_locked(account.client.post("/api/auth/2fa/totp/confirm", json={"code": app.code()}), limits.login_window)
    assert_locked(login(factory.client(), account.email, STRONG_PASSWORD), limits.login_window)
    assert not user_row(account.email).totp_enabled


def test_wrong_recovery_codes_at_sign_in_lock_it_and_leave_the_right_one_unspent(factory: AccountFactory,
                                                                                 limits) -> None:
    from functions.common.accounts.tables import RecoveryCode
    from functions.common.security.crypto import token_hash

    account, _ = enrolled(factory)
    right = account.extra["recovery_codes"][0]
    c = factory.client()
    assert login(c, account.email, STRONG_PASSWORD).json() == {"status": "mfa_required"}
    for _ in range(limits.login_max_failures_account):
        r = c.post("/api/auth/login/mfa", json={"recovery_code": "0000aa-0000aa"})
        assert_problem(r, 401, "invalid_code")

    assert_locked(c.post("/api/auth/login/mfa", json={"recovery_code": right}), limits.login_window)
    used = scalars(select(RecoveryCode.used_at).where(RecoveryCode.code_hash == token_hash(right)))
    assert used == [None]


def test_a_right_password_does_not_forgive_wrong_codes_while_totp_is_on(factory: AccountFactory, limits) -> None:
    """Else whoever knows the password would reset the count between code guesses by signing in again."""
    account, app = enrolled(factory)
    c = factory.client()
    for _ in range(limits.login_max_failures_account - 1):
        assert login(c, account.email, STRONG_PASSWORD).json() == {"status": "mfa_required"}
        assert_problem(c.post("/api/auth/login/mfa", json={"code": app.wrong_code()}), 401, "invalid_code")
    assert login(c, account.email, STRONG_PASSWORD).json() == {"status": "mfa_required"}
    assert_problem(step_up(account, STEP_UPS[1], app.wrong_code()), 401, "invalid_code")

    assert_locked(c.post("/api/auth/login/mfa", json={"code": app.code()}), limits.login_window)
    assert_locked(login(factory.client(), account.email, STRONG_PASSWORD), limits.login_window)
