"""Fixtures of the shared core's tests: the services called directly (no HTTP), against the session's
real PostgreSQL (migrated) and Orthanc. Rows are committed, as the services commit; each test makes
its own accounts and studies, so tests never see each other's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from functions.common.platform import db as database
from tests.support.world import World


@pytest.fixture
def db(platform_env) -> Iterator[Session]:
    """A session on the platform's database, committed at the end of the test."""
    with database.session_scope() as session:
        yield session


@pytest.fixture
def world(db: Session) -> World:
    return World(db)
