"""Whether the caller of a verified access token is still signed in: its session open, its account active.

Access tokens are stateless and live for MCC_ACCESS_TOKEN_TTL; the routes that serve patient data or act
on the account ask PostgreSQL on every request (never cached), so a sign-out, a revoked session or a
deactivated account takes effect at the caller's next request.

Every such request pays for the question, so it costs one round trip and little else: a statement
prepared once per connection (a join of two primary-key lookups), in autocommit (no transaction to open
and end), on connections of its own kept in a stack between requests. SQLAlchemy's pool is not used
for them: its checkout and checkin cost more than the question itself (the auth benchmark's
authenticated no-op ran at 0.84 of the unauthenticated one with it, 0.93 without). A connection
PostgreSQL dropped is replaced and the question asked again."""

from __future__ import annotations

import collections
import os
import threading
import uuid
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from functions.common.platform.config import get_settings
from functions.common.platform.errors import NotAuthenticated
from functions.common.security.tokens import Principal

APPLICATION_NAME = "mcc-session-check"  # how these connections show in pg_stat_activity
MAX_IDLE = 16  # connections kept between requests (a worker's threads, local-dev runs 8); more are closed
_PREPARE = ("PREPARE mcc_session_state(uuid, uuid) AS "
            "SELECT u.status, s.revoked_at IS NULL AND s.expires_at > now() FROM auth_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND u.id = $2")
_EXECUTE = "EXECUTE mcc_session_state(%s, %s)"


def require_signed_in(principal: Principal) -> None:
    """Refuse (401) a token whose session has ended (signed out, revoked, expired) or whose account is deactivated."""
    row = _session_state(principal.session_id, principal.user_id) if principal.session_id else None
    if row is not None and row[0] == "deactivated":
        raise NotAuthenticated("Your account is not active; sign in again.", code="account_inactive")
    if row is None or not row[1]:
        raise NotAuthenticated("Your session has ended; sign in again.", code="session_ended")


def _session_state(session_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, bool] | None:
    """The account's status and whether the session is open; None when the session is not this account's."""
    connections = _connections(get_settings().database_url)
    try:
        return connections.ask(session_id, user_id)
    except _Dropped:
        connections.close_idle()  # PostgreSQL restarted or dropped its connections: the idle ones are gone too
        return connections.ask(session_id, user_id)


class _Dropped(Exception):
    """PostgreSQL closed the connection the question was asked on."""


class _Connections:
    """Autocommit connections to one database, the statement prepared on each, kept between requests in a
    stack (appending and popping are atomic: no lock)."""

    def __init__(self, url: str) -> None:
        # Opens connections (the URL's driver and arguments) and tells a dropped one; it pools nothing.
        self.engine = create_engine(url, poolclass=NullPool, connect_args={"application_name": APPLICATION_NAME})
        self.idle: collections.deque = collections.deque()

    def ask(self, session_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, bool] | None:
        try:
            conn = self.idle.pop()
        except IndexError:
            conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(_EXECUTE, (str(session_id), str(user_id)))
                row = cur.fetchone()
        except self.engine.dialect.loaded_dbapi.Error as e:
            dropped = self.engine.dialect.is_disconnect(e, conn, None)
            conn.close()
            if dropped:
                raise _Dropped from e
            raise
        if len(self.idle) < MAX_IDLE:
            self.idle.append(conn)
        else:
            conn.close()
        return row

    def close_idle(self) -> None:
        while True:
            try:
                conn = self.idle.pop()
            except IndexError:  # another thread took the last one
                return
            conn.close()

    def _connect(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()  # owned here, not by a pool
        conn = fairy.dbapi_connection
        conn.rollback()  # whatever the driver's first use opened
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(_PREPARE)
        return conn


_by_url: dict[str, _Connections] = {}
_by_url_lock = threading.Lock()
_inherited: list[Any] = []


def _connections(url: str) -> _Connections:
    found = _by_url.get(url)
    if found is None:
        with _by_url_lock:
            found = _by_url.setdefault(url, _Connections(url))
    return found


def _forget_inherited() -> None:
    """In a forked worker: never use the parent's connections, nor close them (that would end the parent's)."""
    for connections in _by_url.values():
        _inherited.extend(connections.idle)
        connections.idle.clear()


os.register_at_fork(after_in_child=_forget_inherited)
