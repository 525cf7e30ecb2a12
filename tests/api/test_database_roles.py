"""The functions connect as a runtime role that owns nothing: it reads and writes rows, appends to the
audit log and can change nothing else there (rows, trigger, table), while the migrations run as the
schema's owner."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from functions.common.platform import db
from functions.common.security import audit


def _refused(statement: str, **params) -> str:
    with db.engine().connect() as conn, pytest.raises(DBAPIError) as e:
        conn.execute(text(statement), params)
    return str(e.value.orig)


def test_the_functions_connect_as_a_role_that_is_not_the_owner(platform_env, owner_engine):
    runtime = make_url(platform_env["MCC_DATABASE_URL"]).username
    owner = make_url(platform_env["MCC_TEST_OWNER_DATABASE_URL"]).username
    assert runtime != owner
    with owner_engine.connect() as conn:
        owned = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = :r"),
                             {"r": runtime}).scalar()
        tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = :o"),
                              {"o": owner}).scalar()
        super_, createrole = conn.execute(text("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = :r"),
                                          {"r": runtime}).one()
    assert owned == 0 and tables >= 15
    assert not super_ and not createrole


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET outcome = 'success' WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
])
def test_the_runtime_role_cannot_rewrite_the_audit_log(platform_env, statement):
    with db.session_scope() as session:
        audit.record(session, "role_test")  # appending works
    assert "permission denied for table audit_log" in _refused(statement)


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    "DROP TRIGGER audit_log_no_change ON audit_log",
    "DROP TABLE audit_log",
    "ALTER TABLE studies ADD COLUMN x int",
    "CREATE TABLE mcc_runtime_probe (id int)",
    "UPDATE alembic_version SET version_num = '0001'",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
])
def test_the_runtime_role_cannot_change_the_schema(platform_env, statement):
    assert any(word in _refused(statement) for word in ("must be owner", "permission denied"))


def test_the_runtime_role_reads_and_writes_the_platforms_rows(platform_env):
    with db.engine().begin() as conn:
        for table in ("users", "studies", "instances", "study_shares", "models", "audit_windows", "login_attempts"):
            conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        conn.execute(text("INSERT INTO login_attempts (kind, key) VALUES ('role_test', 'k')"))
        conn.execute(text("DELETE FROM login_attempts WHERE kind = 'role_test'"))
