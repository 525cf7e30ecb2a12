"""Database engine and the request-scoped session."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Iterator
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from functions.common.config import get_settings
from functions.common.errors import NotFound

T = TypeVar("T")


class Base(DeclarativeBase):
    """Declarative base of every table the platform owns."""


@functools.cache
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL per process."""
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, future=True)


def engine() -> Engine:
    return engine_for(get_settings().database_url)


def new_session() -> Session:
    return sessionmaker(bind=engine(), expire_on_commit=False)()


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


def get_or_404(session: Session, model: type[T], raw_id: str, *, what: str) -> T:
    """The row with this id; a malformed or unknown id is the same 404 (no existence leaks)."""
    try:
        row = session.get(model, uuid.UUID(raw_id))
    except ValueError:
        row = None
    if row is None:
        raise NotFound(f"No such {what}.")
    return row


def ping() -> None:
    """Raise if the database is unreachable (used by /readyz)."""
    with engine().connect() as conn:
        conn.execute(text("SELECT 1"))
