"""Fixtures of the API suite: accounts shared by a module where the tests do not change them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg2
import pytest
from mcc_local.postgres import PostgresCluster
from mcc_local.smtp_sink import SmtpSink

from tests.support.api_client import AccountFactory, Mailbox


@pytest.fixture(scope="module")
def factory(origin: str, smtp: SmtpSink) -> AccountFactory:
    """An account factory for module-scoped fixtures (the session's `accounts_factory` is per test)."""
    return AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"])


@pytest.fixture(scope="module")
def doctor(factory: AccountFactory):
    """An approved health professional, signed in, shared by a module's tests (which must leave the account as is)."""
    return factory.create("health_professional")


@pytest.fixture(scope="module")
def researcher(factory: AccountFactory):
    """A signed-in researcher shared by a module's tests (which must leave the account as is)."""
    return factory.create("researcher")


@pytest.fixture(scope="module")
def admin(factory: AccountFactory):
    """An administrator signed in with TOTP (admin pages need both)."""
    return factory.admin()


@pytest.fixture(scope="module")
def limits(origin: str):
    """The origin's settings, for the throttling limits (MCC_LOGIN_MAX_FAILURES_ACCOUNT, …) tests count up to."""
    from functions.common.platform.config import get_settings

    return get_settings()


@pytest.fixture
def superuser(postgres: PostgresCluster, platform_env: dict) -> Iterator:
    """A connection to the platform database as the cluster's superuser (what an attacker with the host has)."""
    from sqlalchemy.engine import make_url

    from functions.common.platform.config import get_settings

    url = make_url(get_settings().database_url)
    conn = psycopg2.connect(host="127.0.0.1", port=postgres.port, dbname=url.database, user=postgres.superuser,
                            password=postgres.password_file.read_text().strip(), connect_timeout=10)
    yield conn
    conn.close()
