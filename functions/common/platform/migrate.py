"""Apply the Alembic migrations as the database's owner, then grant the functions' runtime role what
it needs and no more:

    python -m functions.common.platform.migrate [OWNER_DATABASE_URL] [--runtime-role ROLE]

The functions connect as the runtime role. It reads and writes the platform's rows but owns no
table, so it can alter, drop or disable nothing; on the audit log it may only append and read (no
UPDATE, DELETE or TRUNCATE, and the append-only trigger is out of its reach), and on the migrations'
own version table only read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from functions.common.platform.db import engine_for

MIGRATIONS = Path(__file__).with_name("migrations")
APPEND_ONLY = ("audit_log",)
READ_ONLY = ("alembic_version",)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str | None = None, *, runtime_role: str | None = None) -> None:
    """Bring the schema to the newest revision (idempotent); with `runtime_role`, grant it its privileges."""
    command.upgrade(alembic_config(database_url), "head")
    if runtime_role:
        grant_runtime(database_url, runtime_role)


def runtime_grants(role: str) -> list[str]:
    """The statements that give the runtime role exactly its privileges (idempotent)."""
    who = '"' + role.replace('"', '""') + '"'
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]
    for table in APPEND_ONLY:
        statements += [f"REVOKE ALL ON {table} FROM {who}", f"GRANT SELECT, INSERT ON {table} TO {who}"]
    for table in READ_ONLY:
        statements += [f"REVOKE ALL ON {table} FROM {who}", f"GRANT SELECT ON {table} TO {who}"]
    return statements


def grant_runtime(database_url: str | None, role: str) -> None:
    """Run `runtime_grants` as the owner the migrations connected as."""
    from functions.common.platform.config import get_settings

    with engine_for(database_url or get_settings().database_url).begin() as conn:
        for statement in runtime_grants(role):
            conn.execute(text(statement))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", nargs="?", help="the owner's SQLAlchemy URL (default: MCC_DATABASE_URL)")
    parser.add_argument("--runtime-role", help="the role the functions connect as, to grant its privileges")
    args = parser.parse_args(argv)
    upgrade(args.database_url, runtime_role=args.runtime_role)


if __name__ == "__main__":
    main()
