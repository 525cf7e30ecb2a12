"""A private PostgreSQL cluster: created, started, stopped and restarted for real."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
from mcc_local.postgres import PostgresCluster, PostgresError
from mcc_local.procs import free_port, scratch_dir

DB, OWNER, PASSWORD = "mcc_test", "mcc_app", "correct horse battery staple"


@pytest.fixture(scope="module")
def base_dir() -> Iterator[Path]:
    # pytest's tmp_path lives under a 0700 directory of the current user; when we are root
    # the cluster runs as another OS user, which must be able to traverse to its data dir.
    with scratch_dir("mcc-pg-", mode=0o711) as path:
        yield path


@pytest.fixture(scope="module")
def cluster(base_dir: Path) -> Iterator[PostgresCluster]:
    pg = PostgresCluster(base_dir / "data", port=free_port())
    pg.init()
    pg.start()
    pg.ensure_database(DB, OWNER, PASSWORD)
    yield pg
    pg.stop()


def connect(pg: PostgresCluster, password: str = PASSWORD) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host="127.0.0.1", port=pg.port, dbname=DB, user=OWNER, password=password, connect_timeout=5
    )


def test_data_survives_stop_and_start(cluster: PostgresCluster) -> None:
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (body text)")
        cur.execute("INSERT INTO notes VALUES ('kept across restarts')")
    conn.close()

    cluster.stop()
    assert not cluster.is_running()
    cluster.start()
    assert cluster.is_running()

    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM notes")
        assert cur.fetchall() == [("kept across restarts",)]
    conn.close()


def test_init_start_stop_and_ensure_database_are_idempotent(cluster: PostgresCluster) -> None:
    cluster.init()
    cluster.start()
    cluster.ensure_database(DB, OWNER, PASSWORD)
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_user")
        assert cur.fetchone() == (DB, OWNER)
    conn.close()


def test_ensure_database_sets_the_given_password(cluster: PostgresCluster) -> None:
    cluster.ensure_database(DB, OWNER, "a new password")
    try:
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            connect(cluster, PASSWORD)
        connect(cluster, "a new password").close()
    finally:
        cluster.ensure_database(DB, OWNER, PASSWORD)


def test_password_is_required_over_tcp(cluster: PostgresCluster) -> None:
    with pytest.raises(psycopg2.OperationalError):
        connect(cluster, "wrong")


def test_listens_on_loopback_with_a_private_socket_dir(cluster: PostgresCluster) -> None:
    with connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone() == ("127.0.0.1",)
        cur.execute("SHOW password_encryption")
        assert cur.fetchone() == ("scram-sha-256",)
    conn.close()
    assert stat.S_IMODE(cluster.socket_dir.stat().st_mode) == 0o700
    assert (cluster.socket_dir / f".s.PGSQL.{cluster.port}").is_socket()


def test_superuser_password_file_is_private(cluster: PostgresCluster) -> None:
    assert cluster.password_file.parent == cluster.data_dir.parent
    assert stat.S_IMODE(cluster.password_file.stat().st_mode) == 0o600
    assert len(cluster.password_file.read_text().strip()) >= 32


def test_server_never_runs_as_root(cluster: PostgresCluster) -> None:
    pid = int((cluster.data_dir / "postmaster.pid").read_text().splitlines()[0])
    uid_line = next(
        line
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )
    assert int(uid_line.split()[1]) != 0
    if os.geteuid() == 0:
        assert cluster.os_user in ("postgres", "mcc-postgres")
    assert cluster.data_dir.stat().st_uid == int(uid_line.split()[1])


def test_other_roles_cannot_connect_to_the_database(cluster: PostgresCluster) -> None:
    cluster.ensure_database("mcc_other", "mcc_other_app", "other password")
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(
            host="127.0.0.1",
            port=cluster.port,
            dbname=DB,
            user="mcc_other_app",
            password="other password",
            connect_timeout=5,
        )


def test_a_user_connects_to_its_database_only_and_owns_nothing(cluster: PostgresCluster) -> None:
    cluster.ensure_database("mcc_other", "mcc_other_app", "other password")
    for _ in range(2):  # idempotent; the second call keeps the password current
        cluster.ensure_user(DB, "mcc_reader", "reader password")
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, dbname=DB, user="mcc_reader",
                            password="reader password", connect_timeout=5)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False)
        cur.execute("SELECT count(*) FROM pg_database WHERE pg_get_userbyid(datdba) = current_user")
        assert cur.fetchone() == (0,)
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="permission denied"):
        psycopg2.connect(host="127.0.0.1", port=cluster.port, dbname="mcc_other", user="mcc_reader",
                         password="reader password", connect_timeout=5)


def test_url_is_a_sqlalchemy_psycopg2_url(cluster: PostgresCluster) -> None:
    url = urlsplit(cluster.url(DB, OWNER, "p@ss:w/rd"))
    assert url.scheme == "postgresql+psycopg2"
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", cluster.port, f"/{DB}")
    assert url.username == OWNER
    assert url.password == "p%40ss%3Aw%2Frd"


@pytest.mark.parametrize("name", ["Mixed", "drop table", "1abc", "a" * 64, ""])
def test_ensure_database_rejects_unsafe_names(cluster: PostgresCluster, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        cluster.ensure_database(name, OWNER, PASSWORD)


def test_init_refuses_a_directory_that_is_not_a_cluster(base_dir: Path) -> None:
    stray = base_dir / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("not a cluster")
    with pytest.raises(PostgresError, match="holds no PostgreSQL cluster"):
        PostgresCluster(stray, port=free_port()).init()


def test_socket_dir_too_long_is_rejected_before_any_side_effect(tmp_path: Path) -> None:
    long_dir = tmp_path / ("s" * 120)
    with pytest.raises(ValueError, match="socket_dir"):
        PostgresCluster(tmp_path / "data", port=free_port(), socket_dir=long_dir)
    assert not long_dir.exists()


def test_a_planted_symlink_socket_dir_is_refused(base_dir: Path) -> None:
    victim = base_dir / "victim"
    victim.mkdir(mode=0o755)
    planted = base_dir / "planted-socket-dir"
    planted.symlink_to(victim)
    pg = PostgresCluster(base_dir / "data-planted", port=free_port(), socket_dir=planted)
    pg.init()
    with pytest.raises(PostgresError, match="not a directory owned"):
        pg.start()
    assert not pg.is_running()
    assert stat.S_IMODE(victim.stat().st_mode) == 0o755
    assert victim.stat().st_uid == os.geteuid()
