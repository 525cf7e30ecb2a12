"""The database: engine, sessions, the declarative base and the column helpers every table uses."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from typing import TypeVar

import psycopg2
from sqlalchemy import DateTime, create_engine, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from functions.common.platform.config import get_settings
from functions.common.platform.errors import NotFound, ServiceUnavailable

T = TypeVar("T")
RETRY_AFTER = 5  # seconds a client is asked to wait when the database is down or restarting
# SQLSTATEs of a server that is unreachable rather than refusing: connection exceptions (class 08), shut down by
# an administrator, crashed, starting up or in recovery.
_UNREACHABLE = ("08", "57P01", "57P02", "57P03")


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL could not be reached or dropped the connection mid-request: nothing uncommitted was kept."""

    def __init__(self) -> None:
        super().__init__("The database is unreachable or restarting; try again shortly.",
                         headers={"Retry-After": str(RETRY_AFTER)})


def unavailable(error: BaseException) -> bool:
    """Whether `error` (or an error it was raised from) says the database was unreachable or dropped the
    connection, so the same request may succeed later; a statement the database refused is not that."""
    seen: BaseException | None = error
    for _ in range(16):  # a chain is short; never follow a cycle forever
        if seen is None:
            return False
        if isinstance(seen, DatabaseUnavailable):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, psycopg2.InterfaceError):  # the connection is closed
            return True
        if isinstance(seen, psycopg2.OperationalError) and (seen.pgcode is None or seen.pgcode.startswith(_UNREACHABLE)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Base(DeclarativeBase):
    """Declarative base of every table the platform owns."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def timestamp(nullable: bool = False, default: bool = False) -> Mapped:
    return mapped_column(
        DateTime(timezone=True), nullable=nullable, server_default=func.now() if default else None
    )


@functools.cache
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL per process. Bound parameters never appear in errors or logs:
    they carry patient-derived values (descriptions, hashes) and secrets (token hashes)."""
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, future=True, hide_parameters=True)


def engine() -> Engine:
    return engine_for(get_settings().database_url)


@functools.cache
def _sessions_for(bound: Engine) -> sessionmaker:
    """One session factory per engine: making a factory costs more than the query of a small request."""
    return sessionmaker(bind=bound, expire_on_commit=False)


def new_session() -> Session:
    return _sessions_for(engine())()


@contextlib.contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error, always close."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def discard(session: Session) -> None:
    """Roll back; on a connection the database dropped, that fails too, and there is nothing left to undo."""
    try:
        session.rollback()
    except Exception as e:
        if not unavailable(e):
            raise


def get_or_404(session: Session, model: type[T], row_id: uuid.UUID, *, what: str) -> T:
    """The row with this id, or 404 (routes parse ids with the `uuid` converter, which answers a malformed one
    with the same 404)."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"No such {what}.")
    return row


def ping() -> None:
    """Raise if the database is unreachable (used by /readyz)."""
    with engine().connect() as conn:
        conn.execute(text("SELECT 1"))
