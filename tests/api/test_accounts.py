"""Accounts (functions/auth/accounts.py): sign-up, email verification, password reset and change, email change,
profile, and the answers of a password sign-in that must not tell accounts apart."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest

from tests.support.api_client import ACCESS_COOKIE, STRONG_PASSWORD, AccountFactory, ApiClient, Mailbox
from tests.support.problem import assert_problem
from tests.support.records import user_row

NEW_PASSWORD = "Quartz-heron-paints-41-lanterns"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def signup_body(**fields) -> dict:
    body = {"email": unique_email(), "name": "Ada Lovelace", "password": STRONG_PASSWORD, "role": "researcher"}
    body.update(fields)
    return body


def login(client: ApiClient, email: str, password: str):
    return client.post("/api/auth/login", json={"email": email, "password": password})


# ---------------------------------------------------------------- sign-up validation
@pytest.mark.parametrize(("password", "detail_part"), [
    ("Sh0rt-pw!", "password: must be at least 12 characters"),
    ("passwordpassword", "password: is too easy to guess"),
    ("123456789012", "password: is too easy to guess"),
])
def test_weak_password_is_refused_with_advice_and_creates_no_user(client: ApiClient, password: str,
                                                                  detail_part: str) -> None:
    body = signup_body(password=password)
    problem = assert_problem(client.post("/api/auth/signup", json=body), 422, "weak_password")
    assert problem["detail"].startswith(detail_part)
    assert problem["errors"][0]["field"] == "password"
    assert user_row(body["email"]) is None


def test_password_made_of_the_users_own_email_is_refused(client: ApiClient) -> None:
    email = unique_email("marguerite.yourcenar")
    body = signup_body(email=email, name="Marguerite Yourcenar", password=email)
    assert_problem(client.post("/api/auth/signup", json=body), 422, "weak_password")
    assert user_row(email) is None


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"email": "not-an-email"}, "email", "has the wrong format"),
    ({"email": "two@@example.org"}, "email", "has the wrong format"),
    ({"role": "admin"}, "role", "must be one of researcher, health_professional"),
    ({"name": 42}, "name", "must be of type string"),
    ({"name": "   "}, "name", "has the wrong format"),
    ({"password": ["a", "list"]}, "password", "must be of type string"),
    ({"is_admin": True}, "body", "unknown field(s): 'is_admin' was unexpected"),
])
def test_invalid_signup_field_is_named_in_a_validation_problem(client: ApiClient, change: dict, field: str,
                                                               message: str) -> None:
    body = signup_body(**change)
    problem = assert_problem(client.post("/api/auth/signup", json=body), 422, "validation")
    assert {"field": field, "message": message} in problem["errors"]
    assert f"{field}: {message}" in problem["detail"]
    if isinstance(body["email"], str):
        assert user_row(body["email"]) is None


def test_every_missing_field_is_listed(client: ApiClient) -> None:
    problem = assert_problem(client.post("/api/auth/signup", json={"email": unique_email()}), 422, "validation")
    assert sorted(e["field"] for e in problem["errors"]) == ["name", "password", "role"]
    assert all(e["message"] == "is required" for e in problem["errors"])


def test_admin_role_cannot_be_chosen_at_signup(client: ApiClient) -> None:
    body = signup_body(role="admin")
    assert_problem(client.post("/api/auth/signup", json=body), 422, "validation")
    assert user_row(body["email"]) is None


def test_malformed_json_is_a_400(client: ApiClient) -> None:
    body = signup_body()
    raw = f'{{"email": "{body["email"]}", "name": "Ada",'
    r = client.post("/api/auth/signup", data=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")
    assert user_row(body["email"]) is None


def test_form_encoded_body_is_refused_as_unsupported_media_type(client: ApiClient) -> None:
    body = signup_body()
    assert_problem(client.post("/api/auth/signup", data=body), 415, "unsupported_type")
    assert user_row(body["email"]) is None


def test_body_over_the_size_limit_is_refused(client: ApiClient) -> None:
    from functions.common.platform.config import get_settings

    body = signup_body(name="x" * get_settings().max_body_bytes)
    assert_problem(client.post("/api/auth/signup", json=body), 413, "too_large")
    assert user_row(body["email"]) is None


# ---------------------------------------------------------------- sign-up and verification
def test_signup_mails_a_single_use_verification_link(client: ApiClient, mailbox: Mailbox) -> None:
    body = signup_body(email=unique_email("Mixed.Case").replace("mixed", "MiXeD"))
    r = client.post("/api/auth/signup", json=body)
    assert r.status_code == 202 and r.json() == {"status": "verification_sent"}
    row = user_row(body["email"])
    assert row is not None and row.email == body["email"].lower() and not row.email_verified
    assert row.password_hash.startswith("$argon2id$") and STRONG_PASSWORD not in row.password_hash

    token = mailbox.token(body["email"], "verify", "/verify-email")
    assert client.post("/api/auth/verify-email", json={"token": token}).json() == {"status": "verified"}
    assert user_row(body["email"]).email_verified
    assert_problem(client.post("/api/auth/verify-email", json={"token": token}), 400, "invalid_token")


def test_unknown_verification_token_is_refused(client: ApiClient) -> None:
    assert_problem(client.post("/api/auth/verify-email", json={"token": "x" * 43}), 400, "invalid_token")


def test_duplicate_signup_gets_the_same_answer_and_mails_the_owner(factory: AccountFactory, client: ApiClient,
                                                                   mailbox: Mailbox) -> None:
    email, _ = factory.signup("researcher")
    fresh = client.post("/api/auth/signup", json=signup_body())
    again = client.post("/api/auth/signup", json=signup_body(email=email.upper(), password=NEW_PASSWORD,
                                                             name="Mallory"))
    assert (again.status_code, again.json()) == (fresh.status_code, fresh.json()) == (202,
                                                                                    {"status": "verification_sent"})
    notice = mailbox.wait_for(email, "Sign-up attempt")
    assert "already has one" in notice.get_content()
    assert len([m for m in mailbox.messages_to(email) if "verify" in str(m["Subject"]).lower()]) == 1
    assert user_row(email).name == "Test User"
    assert login(client, email, NEW_PASSWORD).status_code == 401
    assert login(client, email, STRONG_PASSWORD).status_code == 200


def test_duplicate_signup_takes_as_long_as_a_new_one(factory: AccountFactory, client: ApiClient) -> None:
    """Timing must not tell which addresses have an account: both paths hash the password and send a mail."""
    email, _ = factory.signup("researcher")
    fresh, taken = [], []
    for _ in range(5):  # alternately, so a busy moment of the machine weighs on both alike
        fresh.append(client.post("/api/auth/signup", json=signup_body()).elapsed.total_seconds())
        taken.append(client.post("/api/auth/signup", json=signup_body(email=email)).elapsed.total_seconds())
    assert statistics.median(taken) >= 0.7 * statistics.median(fresh), (taken, fresh)


def test_login_before_verification_is_refused_and_mails_a_new_link(client: ApiClient, mailbox: Mailbox) -> None:
    body = signup_body()
    assert client.post("/api/auth/signup", json=body).status_code == 202
    first = mailbox.token(body["email"], "verify", "/verify-email")

    assert_problem(login(client, body["email"], STRONG_PASSWORD), 403, "email_not_verified")
    assert ACCESS_COOKIE not in client.cookies
    deadline = time.monotonic() + 10
    while len(mailbox.messages_to(body["email"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    second = mailbox.token(body["email"], "verify", "/verify-email")
    assert second != first
    assert client.post("/api/auth/verify-email", json={"token": second}).status_code == 200
    assert login(client, body["email"], STRONG_PASSWORD).json()["status"] == "ok"


# ---------------------------------------------------------------- sign-in answers
def _argon2_seconds() -> float:
    from functions.common.security.passwords import hasher

    stored = hasher().hash("a timing reference")
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        hasher().verify(stored, "a timing reference")
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def test_wrong_password_and_unknown_email_are_indistinguishable(factory: AccountFactory,
                                                                new_client) -> None:
    account = factory.create("researcher")
    unknown = unique_email("nobody")
    argon2 = _argon2_seconds()

    def attempt(email: str) -> tuple[int, dict, float]:
        started = time.perf_counter()
        r = login(new_client(), email, "Not-the-password-at-all-99")
        return r.status_code, r.json(), time.perf_counter() - started

    wrong = [attempt(account.email) for _ in range(2)]
    missing = [attempt(unknown) for _ in range(2)]
    assert wrong[0][:2] == missing[0][:2]
    assert wrong[0][0] == 401 and wrong[0][1]["code"] == "invalid_credentials"
    for _, _, seconds in wrong + missing:
        assert seconds >= argon2 / 2, (seconds, argon2)


def test_email_is_matched_case_insensitively_at_login(researcher, client: ApiClient) -> None:
    r = login(client, researcher.email.upper(), STRONG_PASSWORD)
    assert r.status_code == 200 and r.json()["user"]["id"] == researcher.id


# ---------------------------------------------------------------- password reset
def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(researcher, client: ApiClient,
                                                                            mailbox: Mailbox) -> None:
    unknown = unique_email("ghost")
    a = client.post("/api/auth/password/forgot", json={"email": unknown})
    b = client.post("/api/auth/password/forgot", json={"email": researcher.email})
    assert (a.status_code, a.json()) == (b.status_code, b.json()) == (202, {"status": "reset_sent"})
    assert mailbox.token(researcher.email, "Reset", "/reset-password")
    assert mailbox.messages_to(unknown) == []


def test_password_reset_link_works_once_refuses_weak_passwords_and_ends_every_session(
        factory: AccountFactory, client: ApiClient, mailbox: Mailbox) -> None:
    account = factory.create("researcher")
    signed_in = account.client
    assert client.post("/api/auth/password/forgot", json={"email": account.email}).status_code == 202
    token = mailbox.token(account.email, "Reset", "/reset-password")

    weak = client.post("/api/auth/password/reset", json={"token": token, "password": "password1234"})
    assert_problem(weak, 422, "weak_password")
    r = client.post("/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200 and r.json() == {"status": "password_changed"}
    again = client.post("/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD + "x"})
    assert_problem(again, 400, "invalid_token")

    assert_problem(signed_in.post("/api/auth/token/refresh"), 401, "invalid_token")
    assert login(client, account.email, STRONG_PASSWORD).status_code == 401
    assert login(client, account.email, NEW_PASSWORD).json()["status"] == "ok"


def test_verification_token_cannot_reset_a_password(client: ApiClient, mailbox: Mailbox) -> None:
    body = signup_body()
    client.post("/api/auth/signup", json=body)
    token = mailbox.token(body["email"], "verify", "/verify-email")
    r = client.post("/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert_problem(r, 400, "invalid_token")
    assert login(client, body["email"], NEW_PASSWORD).status_code == 401


# ---------------------------------------------------------------- password change
def test_change_password_ends_other_sessions_but_keeps_this_one(factory: AccountFactory,
                                                                mailbox: Mailbox) -> None:
    account = factory.create("researcher")
    other = factory.login(account.email)
    r = account.client.post("/api/auth/password/change",
                            json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text

    assert_problem(other.post("/api/auth/token/refresh"), 401, "invalid_token")
    assert account.client.post("/api/auth/token/refresh").status_code == 200
    assert account.client.get("/api/auth/me").status_code == 200
    assert mailbox.wait_for(account.email, "password was changed")
    assert login(factory.client(), account.email, NEW_PASSWORD).status_code == 200


def test_change_password_needs_the_current_password_and_a_strong_new_one(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    c = account.client
    wrong = c.post("/api/auth/password/change",
                   json={"current_password": "Not-my-password-at-all-7", "new_password": NEW_PASSWORD})
    assert_problem(wrong, 401, "invalid_credentials")
    weak = c.post("/api/auth/password/change",
                  json={"current_password": STRONG_PASSWORD, "new_password": "qwertyuiop12"})
    assert_problem(weak, 422, "weak_password")
    assert login(factory.client(), account.email, STRONG_PASSWORD).status_code == 200


# ---------------------------------------------------------------- email change
def test_email_change_is_confirmed_from_the_new_address(factory: AccountFactory, client: ApiClient,
                                                        mailbox: Mailbox) -> None:
    account = factory.create("researcher")
    new_email = unique_email("moved")
    r = account.client.post("/api/auth/email/change", json={"password": STRONG_PASSWORD, "new_email": new_email})
    assert r.status_code == 202 and r.json() == {"status": "verification_sent"}
    token = mailbox.token(new_email, "Confirm your new", "/email/confirm")
    notice = mailbox.wait_for(account.email, "Email change requested")
    assert token not in notice.get_content()
    assert account.client.get("/api/auth/me").json()["email"] == account.email  # nothing changes before

    assert client.post("/api/auth/email/confirm", json={"token": token}).json() == {"status": "email_changed"}
    assert_problem(client.post("/api/auth/email/confirm", json={"token": token}), 400, "invalid_token")
    me = account.client.get("/api/auth/me").json()
    assert me["email"] == new_email and me["email_verified"]
    assert_problem(login(client, account.email, STRONG_PASSWORD), 401, "invalid_credentials")
    assert login(client, new_email, STRONG_PASSWORD).json()["user"]["id"] == account.id


def test_email_change_needs_the_password(researcher) -> None:
    r = researcher.client.post("/api/auth/email/change",
                               json={"password": "Not-my-password-at-all-7", "new_email": unique_email()})
    assert_problem(r, 401, "invalid_credentials")


def test_email_change_to_the_same_address_is_a_conflict(researcher) -> None:
    r = researcher.client.post("/api/auth/email/change",
                               json={"password": STRONG_PASSWORD, "new_email": researcher.email.upper()})
    assert_problem(r, 409, "same_email")


def test_email_change_to_a_taken_address_answers_alike_but_mails_no_link(factory: AccountFactory, researcher,
                                                                         mailbox: Mailbox) -> None:
    taken, _ = factory.signup("researcher")
    before = len(mailbox.messages_to(taken))
    r = researcher.client.post("/api/auth/email/change", json={"password": STRONG_PASSWORD, "new_email": taken})
    assert r.status_code == 202 and r.json() == {"status": "verification_sent"}
    assert len(mailbox.messages_to(taken)) == before


# ---------------------------------------------------------------- profile
def test_profile_name_can_be_changed_and_is_trimmed(researcher) -> None:
    r = researcher.client.patch("/api/auth/me", json={"name": "  Grace Hopper  "})
    assert r.status_code == 200 and r.json()["name"] == "Grace Hopper"
    assert researcher.client.get("/api/auth/me").json()["name"] == "Grace Hopper"


@pytest.mark.parametrize("body", [{"name": ""}, {"name": " \t "}, {"name": "x" * 201}, {"name": None}, {}])
def test_invalid_profile_name_is_refused(researcher, body: dict) -> None:
    assert_problem(researcher.client.patch("/api/auth/me", json=body), 422, "validation")


def test_profile_update_cannot_change_role_or_status(researcher) -> None:
    r = researcher.client.patch("/api/auth/me", json={"name": "Eve", "role": "admin", "status": "active"})
    problem = assert_problem(r, 422, "validation")
    assert "role" in problem["detail"] and "status" in problem["detail"]
    me = researcher.client.get("/api/auth/me").json()
    assert me["role"] == "researcher" and me["name"] != "Eve"


def test_me_describes_the_signed_in_user(researcher) -> None:
    me = researcher.client.get("/api/auth/me").json()
    assert me["id"] == researcher.id and me["email"] == researcher.email
    assert (me["role"], me["status"], me["email_verified"], me["totp_enabled"]) == ("researcher", "active", True,
                                                                                    False)
    assert me["certificate"] is None and me["created_at"]
    assert "password_hash" not in me and "totp_secret_enc" not in me
