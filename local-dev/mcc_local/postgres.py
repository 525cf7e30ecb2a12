"""A private PostgreSQL cluster in a data directory, never the system service.

The machine's side (binaries, the OS account it runs as, its tools and directories) is `postgres_host`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from .postgres_host import (
    PostgresError,
    check_writable_by,
    chown_to,
    find_bindir,
    private_dir,
    run_tool,
    run_user,
)
from .procs import write_private_file

__all__ = ["PostgresCluster", "PostgresError"]

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SOCKET_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux.
_INCLUDE_LINE = "include_if_exists = 'mcc_local.conf'"


class PostgresCluster:
    """A PostgreSQL cluster owned by this project: loopback TCP, private socket, SCRAM passwords."""

    def __init__(self, data_dir: Path, *, port: int, socket_dir: Path | None = None) -> None:
        if not 1024 <= port <= 65535:
            raise ValueError(f"port: {port} must be between 1024 and 65535")
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.socket_dir = (
            Path(socket_dir).absolute()
            if socket_dir is not None
            else self.data_dir.with_name(f"{self.data_dir.name}-socket")
        )
        socket_path = self.socket_dir / f".s.PGSQL.{port}"
        if len(str(socket_path).encode()) > _SOCKET_PATH_MAX:
            raise ValueError(
                f"socket_dir: {self.socket_dir} is too long for a unix socket "
                f"({len(str(socket_path))} > {_SOCKET_PATH_MAX} bytes); pass a shorter socket_dir"
            )
        self.password_file = self.data_dir.with_name(f"{self.data_dir.name}.superuser-password")
        self.log_file = self.data_dir / "log" / "server.log"
        self._bindir: Path | None = None
        self._os_user: str | None = None

    @property
    def os_user(self) -> str:
        """The OS account the server runs as (never root)."""
        if self._os_user is None:
            self._os_user = run_user()
        return self._os_user

    @property
    def superuser(self) -> str:
        """Name of the cluster's superuser role (the OS user's name, as initdb makes it)."""
        return self.os_user

    @property
    def bindir(self) -> Path:
        """Directory with initdb, pg_ctl and postgres."""
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def init(self) -> None:
        """Create the cluster if it does not exist yet; idempotent."""
        user = self.os_user
        if (self.data_dir / "PG_VERSION").exists():
            self._check_version()
            self._read_password()
            self._ensure_include()
            logger.debug("cluster %s already initialised", self.data_dir)
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise PostgresError(
                f"{self.data_dir} exists, is not empty and holds no PostgreSQL cluster; "
                "choose an empty or missing directory"
            )
        logger.info("initialising PostgreSQL cluster in %s (OS user %s)", self.data_dir, user)
        private_dir(self.data_dir, self.os_user)
        # Reuse a password left by an interrupted init; (re)write it so owner and mode are right.
        if self.password_file.exists():
            password = self._read_password()
        else:
            password = secrets.token_urlsafe(32)
        write_private_file(self.password_file, password + "\n", owner=chown_to(self.os_user))
        check_writable_by(self.os_user, self.data_dir)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.superuser,
            "--pwfile",
            str(self.password_file),
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        self._write_hba()
        self._ensure_include()

    def start(self) -> None:
        """Start the server and wait until it accepts connections; idempotent."""
        if not (self.data_dir / "PG_VERSION").exists():
            raise PostgresError(f"no cluster in {self.data_dir}; call init() first")
        if self.is_running():
            logger.debug("cluster %s already running", self.data_dir)
            return
        self._write_settings()
        private_dir(self.socket_dir, self.os_user)
        private_dir(self.log_file.parent, self.os_user)
        logger.info("starting PostgreSQL on 127.0.0.1:%d (%s)", self.port, self.data_dir)
        try:
            self._run(
                "pg_ctl",
                "start",
                "--wait",
                "--timeout=60",
                "--silent",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
            )
        except PostgresError as exc:
            raise PostgresError(
                f"{exc}\n--- {self.log_file} (tail) ---\n{self._log_tail()}"
            ) from exc

    def stop(self, *, mode: Literal["fast", "immediate"] = "fast") -> None:
        """Stop the server; idempotent. `fast`: a clean shutdown; `immediate`: every process killed without a
        checkpoint, a crash to recover from at the next start (outage tests)."""
        if not self.is_running():
            return
        logger.info("stopping PostgreSQL (%s, %s)", self.data_dir, mode)
        self._run(
            "pg_ctl",
            "stop",
            "--wait",
            "--timeout=60",
            "--silent",
            f"--mode={mode}",
            "--pgdata",
            str(self.data_dir),
        )

    def is_running(self) -> bool:
        """True if a postmaster is running on this data directory."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        result = self._run("pg_ctl", "status", "--pgdata", str(self.data_dir), check=False)
        return result.returncode == 0

    def ensure_database(self, name: str, owner: str, password: str) -> None:
        """Create login role `owner` and database `name` if missing; keep the password current."""
        _check_identifiers(name=name, owner=owner)
        with self._login_role("owner", owner, password) as cur:
            cur.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    sql.SQL(
                        "CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0"
                    ).format(sql.Identifier(name), sql.Identifier(owner))
                )
                logger.info("created database %s owned by %s", name, owner)
            elif row[0] != owner:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )
                logger.info("database %s: owner changed from %s to %s", name, row[0], owner)
            # Other roles of this cluster have no business in the database.
            cur.execute(
                sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(name)
                )
            )

    def ensure_user(self, database: str, role: str, password: str) -> None:
        """Create login role `role`, owning nothing, that may connect to `database`; keep its password
        current. What it may do inside is granted by the database's owner (the migrations)."""
        _check_identifiers(database=database, role=role)
        with self._login_role("role", role, password) as cur:
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)))

    @contextlib.contextmanager
    def _login_role(self, field: str, role: str, password: str) -> Iterator:
        """A superuser cursor, after creating login role `role` (or setting its password); `field` names it."""
        if role == self.superuser:
            raise ValueError(f"{field}: {role!r} is the cluster superuser; use an application role")
        conn = self._admin_connection()
        try:
            with conn.cursor() as cur:
                self._ensure_login_role(conn, cur, role, password)
                yield cur
        finally:
            conn.close()

    @staticmethod
    def _ensure_login_role(conn: PgConnection, cur, role: str, password: str) -> None:
        if not password:
            raise ValueError("password: must not be empty")
        # Send a SCRAM verifier, never the password itself, so it cannot reach logs.
        verifier = psycopg2.extensions.encrypt_password(password, role, conn, "scram-sha-256")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        cur.execute(
            sql.SQL("{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.SQL(verb), sql.Identifier(role), sql.Literal(verifier))
        )
        if verb == "CREATE":
            logger.info("created role %s", role)

    def url(self, db: str, user: str, password: str) -> str:
        """SQLAlchemy URL for `db` as `user` over loopback TCP."""
        return (
            f"postgresql+psycopg2://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(db, safe='')}"
        )

    def _admin_connection(self) -> PgConnection:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="postgres",
            user=self.superuser,
            password=self._read_password(),
            connect_timeout=10,
            application_name="mcc_local",
        )
        conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction.
        return conn

    def _read_password(self) -> str:
        try:
            return self.password_file.read_text().strip()
        except FileNotFoundError:
            raise PostgresError(
                f"superuser password file {self.password_file} is missing; "
                f"restore it or recreate the cluster in {self.data_dir}"
            ) from None

    def _check_version(self) -> None:
        data_version = (self.data_dir / "PG_VERSION").read_text().strip()
        match = re.search(r"/(\d+)/bin$", str(self.bindir))
        if match and match.group(1) != data_version:
            raise PostgresError(
                f"{self.data_dir} was created by PostgreSQL {data_version} but the binaries in "
                f"{self.bindir} are version {match.group(1)}; install PostgreSQL "
                f"{data_version} or dump and recreate the cluster"
            )

    def _write_hba(self) -> None:
        # Only the cluster's own OS user may use the socket (as superuser, by peer); everyone
        # else comes over loopback TCP with a SCRAM password. The socket dir is 0700 anyway.
        hba = (
            "# Generated by mcc_local.postgres; rewritten only when the cluster is created.\n"
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            f"local   all       {self.superuser}  peer\n"
            "host    all       all   127.0.0.1/32  scram-sha-256\n"
            "host    all       all   ::1/128       scram-sha-256\n"
        )
        self._write_owned(self.data_dir / "pg_hba.conf", hba)

    def _ensure_include(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        text = conf.read_text()
        if _INCLUDE_LINE not in text:
            self._write_owned(
                conf, text.rstrip("\n") + f"\n\n# Added by mcc_local\n{_INCLUDE_LINE}\n"
            )

    def _write_settings(self) -> None:
        socket_dir = str(self.socket_dir).replace("'", "''")
        settings = (
            "# Generated by mcc_local.postgres on every start; edit PostgresCluster instead.\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n"
            # A failing statement is logged with its values inlined (psycopg2 binds on the client), and the
            # values are patient data: log errors without the statement.
            "log_min_error_statement = panic\n"
        )
        self._write_owned(self.data_dir / "mcc_local.conf", settings)

    def _write_owned(self, path: Path, text: str) -> None:
        """Write a config file in the data dir, owned by and private to the run user."""
        write_private_file(path, text, owner=chown_to(self.os_user))

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(cannot read log: {exc})"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_tool(self.bindir, self.os_user, tool, *args, check=check)


def _check_identifiers(**names: str) -> None:
    for field, value in names.items():
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"{field}: {value!r} must be lower-case letters, digits and _ "
                             "(at most 63, not starting with a digit)")
