"""Alembic environment: the database URL comes from the platform settings."""

from alembic import context

from functions.common.platform.config import get_settings
from functions.common.platform.db import engine_for
from functions.common.schema import metadata

target_metadata = metadata


def run_migrations() -> None:
    url = context.config.attributes.get("database_url") or get_settings().database_url
    connectable = engine_for(url)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
