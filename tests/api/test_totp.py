"""Two-factor authentication (functions/auth/totp.py and the second step of functions/auth/login.py): enrolment,
the sign-in that needs a code, replay protection, recovery codes, turning it off, and the secret at rest."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.support.api_client import ACCESS_COOKIE, STRONG_PASSWORD, Account, AccountFactory, ApiClient
from tests.support.authenticator import Authenticator, enrol
from tests.support.problem import assert_problem
from tests.support.records import audit_events, scalar, user_row


def password_step(factory: AccountFactory, account: Account) -> ApiClient:
    """A new browser that has passed the password step and now holds only the mfa ticket."""
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD})
    assert r.status_code == 200 and r.json() == {"status": "mfa_required"}, r.text
    return c


def second_step(c: ApiClient, **body):
    return c.post("/api/auth/login/mfa", json=body)


@pytest.fixture
def enrolled(factory: AccountFactory) -> tuple[Account, Authenticator]:
    """A fresh researcher with TOTP on (each test spends its own codes)."""
    account = factory.create("researcher")
    return account, enrol(account)


# ---------------------------------------------------------------- enrolment
def test_setup_shows_the_secret_as_text_uri_and_svg_qr_code(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    r = account.client.post("/api/auth/2fa/totp/setup", json={"password": STRONG_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    base64.b32decode(body["secret"])
    assert len(body["secret"]) >= 32
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp") and account.email in uri.path.replace("%40", "@")
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]] and query["issuer"] == ["MedCloudCare"]
    assert ET.fromstring(body["qr_svg"]).tag.endswith("svg")

    assert account.client.get("/api/auth/me").json()["totp_enabled"] is False
    assert factory.login(account.email)  # not on until confirmed: the password alone still signs in


def test_setup_needs_the_password(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    r = account.client.post("/api/auth/2fa/totp/setup", json={"password": "Not-my-password-at-all-7"})
    assert_problem(r, 401, "invalid_credentials")
    assert user_row(account.email).totp_pending_enc is None


def test_confirm_needs_a_setup_first(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    assert_problem(account.client.post("/api/auth/2fa/totp/confirm", json={"code": "123456"}), 409, "no_setup")


def test_confirm_with_a_wrong_code_keeps_totp_off(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    secret = account.client.post("/api/auth/2fa/totp/setup", json={"password": STRONG_PASSWORD}).json()["secret"]
    r = account.client.post("/api/auth/2fa/totp/confirm", json={"code": Authenticator(secret).wrong_code()})
    assert_problem(r, 401, "invalid_code")
    assert account.client.get("/api/auth/me").json()["totp_enabled"] is False


def test_confirm_turns_totp_on_and_returns_ten_recovery_codes(enrolled) -> None:
    account, _ = enrolled
    codes = account.extra["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10 and all(isinstance(c, str) and len(c) >= 8 for c in codes)
    assert account.client.get("/api/auth/me").json()["totp_enabled"] is True
    r = account.client.post("/api/auth/2fa/totp/setup", json={"password": STRONG_PASSWORD})
    assert_problem(r, 409, "already_enabled")


def test_totp_secret_is_not_stored_in_clear(enrolled) -> None:
    account, app = enrolled
    row = user_row(account.email)
    stored = bytes(row.totp_secret_enc)
    assert stored.startswith(b"MCE1"), "sealed by the envelope"
    assert app.secret.encode() not in stored
    assert base64.b32decode(app.secret) not in stored
    assert row.totp_pending_enc is None


def test_recovery_codes_are_stored_only_as_hashes(enrolled) -> None:
    from functions.common.accounts.tables import RecoveryCode

    account, _ = enrolled
    stored = set(scalar(select(func.array_agg(RecoveryCode.code_hash))
                        .where(RecoveryCode.user_id == uuid.UUID(account.id))))
    assert len(stored) == 10
    assert not stored & set(account.extra["recovery_codes"])


# ---------------------------------------------------------------- the second step of sign-in
def test_after_enrolment_the_password_gives_only_an_mfa_ticket(factory: AccountFactory, enrolled) -> None:
    account, _ = enrolled
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD})
    assert r.status_code == 200 and r.json() == {"status": "mfa_required"}
    assert {cookie.name for cookie in c.cookies} == {"mcc_mfa"}
    mfa_cookie = next(h for h in r.raw.headers.getlist("Set-Cookie") if h.startswith("mcc_mfa="))
    assert "HttpOnly" in mfa_cookie and "Path=/api/auth" in mfa_cookie
    assert_problem(c.get("/api/auth/me"), 401, "not_authenticated")
    ticket_as_access_cookie = {"Cookie": f"{ACCESS_COOKIE}={c.cookies.get('mcc_mfa')}"}
    assert_problem(c.get("/api/auth/me", headers=ticket_as_access_cookie), 401, "invalid_token")


def test_correct_code_signs_in_with_both_factors(factory: AccountFactory, enrolled) -> None:
    account, app = enrolled
    c = password_step(factory, account)
    r = second_step(c, code=app.code())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok" and r.json()["user"]["id"] == account.id
    assert "mcc_mfa" not in {cookie.name for cookie in c.cookies}
    assert c.get("/api/auth/me").status_code == 200
    logins = audit_events("login", actor_id=account.id)
    assert logins[-1].outcome == "success" and logins[-1].details["amr"] == ["pwd", "otp"]


def test_replayed_totp_code_is_refused_and_audited(factory: AccountFactory, enrolled) -> None:
    account, app = enrolled
    assert second_step(password_step(factory, account), code=app.code()).status_code == 200
    thief = password_step(factory, account)
    assert_problem(second_step(thief, code=app.last_code()), 401, "code_replayed")
    assert_problem(thief.get("/api/auth/me"), 401, "not_authenticated")
    replays = audit_events("totp_replay", actor_id=account.id)
    assert len(replays) == 1 and replays[0].outcome == "failure" and replays[0].client_ip == thief.address
    assert second_step(thief, code=app.code()).status_code == 200  # a newer code still works


def test_wrong_code_is_refused(factory: AccountFactory, enrolled) -> None:
    account, app = enrolled
    c = password_step(factory, account)
    assert_problem(second_step(c, code=app.wrong_code()), 401, "invalid_code")
    assert_problem(second_step(c), 401, "invalid_code")
    assert audit_events("totp_failed", actor_id=account.id)


def test_code_of_non_ascii_digits_is_refused(factory: AccountFactory, enrolled) -> None:
    account, _ = enrolled
    c = password_step(factory, account)
    assert_problem(second_step(c, code="\u0661\u0662\u0663\u0664\u0665\u0666"), 401, "invalid_code")


def test_second_step_without_the_password_step_is_refused(enrolled, client: ApiClient) -> None:
    _, app = enrolled
    assert_problem(second_step(client, code=app.code()), 401, "mfa_expired")
    assert_problem(second_step(client, code=app.code(), mfa_token="not-a-ticket"), 401, "mfa_expired")


def test_recovery_code_signs_in_once(factory: AccountFactory, enrolled) -> None:
    account, _ = enrolled
    first, second = account.extra["recovery_codes"][:2]
    c = password_step(factory, account)
    assert second_step(c, recovery_code=first).status_code == 200
    assert c.get("/api/auth/me").status_code == 200

    again = password_step(factory, account)
    assert_problem(second_step(again, recovery_code=first), 401, "invalid_code")
    assert second_step(again, recovery_code=f"  {second.upper()} ").status_code == 200
    assert audit_events("recovery_code_used", actor_id=account.id)


def test_api_client_passes_the_second_step_with_the_mfa_token(factory: AccountFactory, enrolled) -> None:
    account, app = enrolled
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD, "client": "api"})
    ticket = r.json()["mfa_token"]
    assert not c.cookies
    r = second_step(c, code=app.code(), mfa_token=ticket)
    assert r.status_code == 200, r.text
    c.bearer = r.json()["access_token"]
    assert c.get("/api/auth/me").json()["id"] == account.id


def test_too_many_wrong_codes_lock_the_second_step(factory: AccountFactory, enrolled) -> None:
    from functions.common.platform.config import get_settings

    account, app = enrolled
    c = password_step(factory, account)
    for _ in range(get_settings().login_max_failures_account):
        assert_problem(second_step(c, code=app.wrong_code()), 401, "invalid_code")
    locked = second_step(c, code=app.code())
    assert_problem(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= get_settings().login_window
    assert_problem(c.get("/api/auth/me"), 401, "not_authenticated")


# ---------------------------------------------------------------- turning it off, new recovery codes
def test_disabling_totp_needs_the_password_and_a_code(enrolled) -> None:
    from functions.common.accounts.tables import RecoveryCode

    account, app = enrolled
    c = account.client
    code = app.code()
    assert_problem(c.post("/api/auth/2fa/totp/disable", json={"password": "Not-my-password-at-all-7", "code": code}),
                   401, "invalid_credentials")
    assert_problem(c.post("/api/auth/2fa/totp/disable", json={"password": STRONG_PASSWORD,
                                                             "code": app.wrong_code()}), 401, "invalid_code")
    assert_problem(c.post("/api/auth/2fa/totp/disable", json={"password": STRONG_PASSWORD}), 422, "validation")
    assert c.get("/api/auth/me").json()["totp_enabled"] is True

    r = c.post("/api/auth/2fa/totp/disable", json={"password": STRONG_PASSWORD, "code": code})
    assert r.status_code == 200 and r.json() == {"status": "disabled"}
    row = user_row(account.email)
    assert not row.totp_enabled and row.totp_secret_enc is None
    assert scalar(select(func.count()).select_from(RecoveryCode)
                  .where(RecoveryCode.user_id == uuid.UUID(account.id))) == 0
    assert c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}).json()["status"] == "ok"


def test_new_recovery_codes_replace_the_old_ones(factory: AccountFactory, enrolled) -> None:
    account, app = enrolled
    old = account.extra["recovery_codes"]
    r = account.client.post("/api/auth/2fa/recovery-codes", json={"password": STRONG_PASSWORD, "code": app.code()})
    assert r.status_code == 200, r.text
    new = r.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    c = password_step(factory, account)
    assert_problem(second_step(c, recovery_code=old[0]), 401, "invalid_code")
    assert second_step(c, recovery_code=new[0]).status_code == 200


def test_new_recovery_codes_need_totp_on(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    r = account.client.post("/api/auth/2fa/recovery-codes", json={"password": STRONG_PASSWORD, "code": "123456"})
    assert_problem(r, 409, "not_enabled")
