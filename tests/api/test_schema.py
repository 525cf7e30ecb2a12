"""The Alembic migrations build exactly the schema the ORM models describe (no forgotten migration)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from functions.common.platform import db
from functions.common.schema import metadata


def test_migrations_match_the_models(origin):  # the origin's database is migrated to head
    with db.engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
