"""Administration (functions/auth/admin.py and login.require_admin): the user list, deactivation, who may use
admin pages, and the audit log with its hash chain (functions/common/security/audit.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support.api_client import STRONG_PASSWORD, Account, AccountFactory, ApiClient
from tests.support.authenticator import enrol
from tests.support.problem import assert_problem

USERS = "/api/auth/admin/users"
AUDIT = "/api/auth/admin/audit"


def login(client: ApiClient, email: str, password: str = STRONG_PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


@pytest.fixture(scope="module")
def population(origin: str) -> dict[str, str]:
    """Four users sharing a search tag (one only in the name), made without passwords to keep it fast."""
    from functions.auth.accounts import create_user
    from functions.common.platform import db

    tag = uuid.uuid4().hex[:12]
    people = {  # key: (email, name, role, status)
        "ada": (f"ada-{tag}@example.org", "Ada Byron", "researcher", "active"),
        "bob": (f"bob-{tag}@example.org", "Bob Pending", "health_professional", "pending"),
        "cyd": (f"cyd-{tag}@example.org", "Cyd Active", "health_professional", "active"),
        "dee": (f"dee-{uuid.uuid4().hex[:8]}@example.org", f"Dee {tag}", "researcher", "deactivated"),
    }
    with db.session_scope() as session:
        for email, name, role, status in people.values():
            create_user(session, email=email, name=name, role=role, password=None, email_verified=True,
                        status=status)
    return {"tag": tag, **{k: v[0] for k, v in people.items()}}


def users(admin: Account, **params) -> dict:
    r = admin.client.get(USERS, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def audit(admin: Account, **params) -> dict:
    r = admin.client.get(AUDIT, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- the user list
def test_admin_searches_users_by_email_or_name_with_a_total(admin: Account, population: dict) -> None:
    found = users(admin, q=population["tag"].upper())
    assert found["total"] == 4
    assert {u["email"] for u in found["items"]} == {population[k] for k in ("ada", "bob", "cyd", "dee")}
    assert set(found["items"][0]) >= {"id", "email", "name", "role", "status", "email_verified", "totp_enabled",
                                      "created_at", "certificate"}


def test_user_list_is_paginated_newest_first(admin: Account, population: dict) -> None:
    pages = [users(admin, q=population["tag"], limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [p["total"] for p in pages] == [4, 4, 4]
    assert [len(p["items"]) for p in pages] == [3, 1, 0]
    listed = [u["email"] for p in pages for u in p["items"]]
    assert listed == [population[k] for k in ("dee", "cyd", "bob", "ada")]


@pytest.mark.parametrize(("filters", "expected"), [
    ({"role": "health_professional"}, {"bob", "cyd"}),
    ({"status": "pending"}, {"bob"}),
    ({"status": "deactivated"}, {"dee"}),
    ({"role": "researcher", "status": "active"}, {"ada"}),
    ({"role": "admin"}, set()),
])
def test_user_list_filters_by_role_and_status(admin: Account, population: dict, filters: dict,
                                              expected: set) -> None:
    found = users(admin, q=population["tag"], **filters)
    assert {u["email"] for u in found["items"]} == {population[k] for k in expected}
    assert found["total"] == len(expected)


def test_search_wildcards_are_taken_literally(admin: Account, population: dict) -> None:
    assert users(admin, q=population["tag"] + "%")["total"] == 0
    assert users(admin, q=population["tag"][:4] + "_" + population["tag"][5:])["total"] == 0


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"offset": "-1"}, {"role": "superuser"},
    {"status": "banned"},
    {"offset": "3697398607332480909312"},  # found by the fuzzer: beyond PostgreSQL's bigint, it was a 500
    {"q": "doctor\x00"},  # found by the fuzzer: PostgreSQL takes no NUL in text, it was a 500
])
def test_bad_user_list_parameters_are_refused(admin: Account, params: dict) -> None:
    problem = assert_problem(admin.client.get(USERS, params=params), 422, "validation")
    assert problem["errors"][0]["field"] == next(iter(params))


# ---------------------------------------------------------------- deactivation
def test_deactivation_ends_sessions_and_refuses_sign_in_until_reactivated(factory: AccountFactory,
                                                                          admin: Account) -> None:
    target = factory.create("researcher")
    r = admin.client.post(f"{USERS}/{target.id}/deactivate")
    assert r.status_code == 200 and r.json()["status"] == "deactivated"

    assert_problem(target.client.post("/api/auth/token/refresh"), 401, "invalid_token")
    assert_problem(target.client.get("/api/auth/me"), 401, "account_inactive")
    assert_problem(login(factory.client(), target.email), 403, "account_deactivated")
    assert_problem(login(factory.client(), target.email, "Not-the-password-at-all-99"), 401, "invalid_credentials")
    events = audit(admin, action="user_deactivated", actor=admin.email)["items"]
    assert events[0]["target"] == f"user:{target.id}" and events[0]["actor_email"] == admin.email

    r = admin.client.post(f"{USERS}/{target.id}/reactivate")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert_problem(target.client.post("/api/auth/token/refresh"), 401, "invalid_token")  # old sessions stay ended
    assert login(factory.client(), target.email).json()["status"] == "ok"
    assert_problem(admin.client.post(f"{USERS}/{target.id}/reactivate"), 409, "not_deactivated")


def test_reactivated_professional_without_an_approved_certificate_is_pending(admin: Account,
                                                                             population: dict) -> None:
    cyd = users(admin, q=population["cyd"])["items"][0]
    assert admin.client.post(f"{USERS}/{cyd['id']}/deactivate").json()["status"] == "deactivated"
    assert admin.client.post(f"{USERS}/{cyd['id']}/reactivate").json()["status"] == "pending"


def test_admin_cannot_deactivate_themselves(admin: Account) -> None:
    assert_problem(admin.client.post(f"{USERS}/{admin.id}/deactivate"), 409, "self")
    assert admin.client.get("/api/auth/me").json()["status"] == "active"


def test_deactivating_an_unknown_user_is_not_found(admin: Account) -> None:
    assert_problem(admin.client.post(f"{USERS}/{uuid.uuid4()}/deactivate"), 404, "not_found")
    assert_problem(admin.client.post(f"{USERS}/not-a-uuid/deactivate"), 404, "not_found")


# ---------------------------------------------------------------- who may use admin pages
def test_admin_without_totp_must_enrol_first(factory: AccountFactory) -> None:
    unenrolled = factory.create("admin")
    assert_problem(unenrolled.client.get(USERS), 403, "mfa_enrolment_required")
    assert unenrolled.client.get("/api/auth/me").status_code == 200


def test_admin_session_that_did_not_use_totp_is_refused(factory: AccountFactory) -> None:
    account = factory.create("admin")  # signed in with the password only
    enrol(account)
    assert_problem(account.client.get(USERS), 403, "mfa_required")
    assert account.client.post("/api/auth/token/refresh").status_code == 200
    assert_problem(account.client.get(USERS), 403, "mfa_required")  # refreshing does not add a factor


# ---------------------------------------------------------------- the audit log
def test_audit_log_filters_by_action_actor_outcome_and_time(factory: AccountFactory, admin: Account) -> None:
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    account = factory.create("researcher")
    assert login(factory.client(), account.email, "Not-the-password-at-all-99").status_code == 401

    mine = audit(admin, actor=account.email.upper())
    assert {e["action"] for e in mine["items"]} >= {"login"}
    assert all(e["actor_email"] == account.email for e in mine["items"]) and mine["total"] == len(mine["items"])
    failures = audit(admin, actor=account.email, outcome="failure")["items"]
    assert [(e["action"], e["outcome"], e["details"]) for e in failures] == [("login", "failure",
                                                                             {"reason": "bad_password"})]
    logins = audit(admin, action="login", actor=account.email)["items"]
    assert sorted(e["outcome"] for e in logins) == ["failure", "success"]
    assert all(e["action"] == "login" for e in audit(admin, action="login", limit=5)["items"])

    assert audit(admin, actor=account.email, since=started.isoformat())["total"] == mine["total"]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    assert audit(admin, actor=account.email, since=later)["total"] == 0
    assert audit(admin, actor=account.email, until=started.isoformat())["total"] == 0
    newest_first = [e["id"] for e in audit(admin, limit=10)["items"]]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize("params", [{"since": "yesterday"}, {"until": "2026-13-45"}, {"outcome": "maybe"},
                                    {"limit": "1000"}, {"since": "0001-01-01T00:00:00+05:00"},
                                    {"until": "9999-12-31T23:59:59-01:00"}])
def test_bad_audit_parameters_are_refused(admin: Account, params: dict) -> None:
    assert_problem(admin.client.get(AUDIT, params=params), 422, "validation")


def test_audit_times_with_any_utc_offset_python_reads_are_taken(admin: Account) -> None:
    """Found by the fuzzer: PostgreSQL takes UTC offsets up to 15:59 only, so -22:01 was a 500."""
    assert audit(admin, since="1704-08-23T16:29:16.735-22:01", until="2999-01-01T00:00:00+23:59")["total"] > 0


def test_certificate_lists_name_a_status_that_exists(admin: Account) -> None:
    problem = assert_problem(admin.client.get("/api/auth/admin/certificates", params={"status": "lost"}), 422,
                             "validation")
    assert problem["errors"][0]["field"] == "status"


def test_audit_chain_verifies(admin: Account) -> None:
    result = admin.client.get(f"{AUDIT}/verify").json()
    assert result["ok"] is True and result["first_broken_id"] is None and result["checked"] > 0
    assert result["checked"] >= audit(admin, limit=1)["total"]


def test_even_the_schema_owner_cannot_change_the_audit_log(admin: Account, owner_engine) -> None:
    """Behind the runtime role's missing privileges (test_database_roles.py), the append-only trigger."""
    newest = audit(admin, limit=1)["items"][0]["id"]
    for statement in ("UPDATE audit_log SET outcome = 'success' WHERE id = :id",
                      "DELETE FROM audit_log WHERE id = :id", "TRUNCATE audit_log"):
        with owner_engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement), {"id": newest})
    assert admin.client.get(f"{AUDIT}/verify").json()["ok"] is True


def _set_outcome(conn, row_id: int, outcome: str) -> None:
    with conn, conn.cursor() as cur:  # one transaction: the trigger is off only inside it
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        cur.execute("UPDATE audit_log SET outcome = %s WHERE id = %s", (outcome, row_id))
        cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")


def test_tampering_with_an_audit_row_breaks_the_chain_at_that_row(factory: AccountFactory, admin: Account,
                                                                  superuser) -> None:
    account = factory.create("researcher")
    assert login(factory.client(), account.email, "Not-the-password-at-all-99").status_code == 401
    row = audit(admin, actor=account.email, outcome="failure")["items"][0]
    assert admin.client.get(f"{AUDIT}/verify").json()["ok"] is True

    _set_outcome(superuser, row["id"], "success")  # hide the failed attempt
    try:
        result = admin.client.get(f"{AUDIT}/verify").json()
        assert result["ok"] is False and result["first_broken_id"] == row["id"]
        with superuser.cursor() as cur:
            cur.execute("SELECT count(*) FROM audit_log WHERE id < %s", (row["id"],))
            assert result["checked"] == cur.fetchone()[0]
    finally:
        _set_outcome(superuser, row["id"], "failure")
    assert admin.client.get(f"{AUDIT}/verify").json()["ok"] is True
