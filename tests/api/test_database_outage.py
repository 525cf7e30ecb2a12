"""The functions while PostgreSQL is away: a request they cannot serve is answered 503 with Retry-After in the
platform's own words (never a 500), and once the database is back they serve again without a restart."""

from __future__ import annotations

import psycopg2
import pytest
from mcc_local.procs import free_port
from sqlalchemy.engine import make_url

from functions.common.platform import db
from functions.common.platform.config import get_settings, reset_settings
from tests.support.problem import assert_problem

ROUTES = ("/dicom-web/studies", "/api/studies", "/api/auth/me")  # the gateway, the studies function, the account


@pytest.fixture
def database_away(origin, monkeypatch):
    """This process's functions pointed at a port where no database listens (the session's PostgreSQL stays up
    for the other tests); restored afterwards."""
    away = make_url(get_settings().database_url).set(port=free_port())
    monkeypatch.setenv("MCC_DATABASE_URL", away.render_as_string(hide_password=False))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


@pytest.mark.parametrize("route", ROUTES)
def test_a_database_that_cannot_be_reached_is_answered_503_with_retry_after(doctor, database_away, route):
    r = doctor.client.get(route)
    body = assert_problem(r, 503, "unavailable")
    assert r.headers["Retry-After"] == str(db.RETRY_AFTER)
    assert "try again" in body["detail"]


def test_a_sign_in_while_the_database_is_away_is_answered_503(client, database_away):
    r = client.post("/api/auth/login", json={"email": "nobody@example.org", "password": "x" * 12, "client": "api"})
    assert_problem(r, 503, "unavailable")


def test_after_the_database_dropped_every_connection_the_next_requests_succeed(doctor, superuser):
    assert doctor.client.get("/dicom-web/studies").status_code == 200  # connections pooled and kept
    with superuser.cursor() as cur:  # what a restart does to the functions' connections
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mcc_app' "
                    "AND pid <> pg_backend_pid()")
    for route in ROUTES * 3:
        assert doctor.client.get(route).status_code == 200, route


def test_an_unreachable_database_is_told_from_a_refused_statement(platform_env):
    with pytest.raises(psycopg2.OperationalError) as refused_connection:
        psycopg2.connect(host="127.0.0.1", port=free_port(), dbname="mcc", user="mcc_app", connect_timeout=5)
    assert db.unavailable(refused_connection.value)
    with db.engine().connect() as conn, pytest.raises(Exception) as refused_statement:
        conn.exec_driver_sql("SELECT 1/0")
    assert not db.unavailable(refused_statement.value)
    with db.engine().connect() as conn, pytest.raises(Exception) as timed_out:
        conn.exec_driver_sql("SET statement_timeout = 1; SELECT pg_sleep(1)")
    assert not db.unavailable(timed_out.value)  # a statement the database cancelled is not an outage
