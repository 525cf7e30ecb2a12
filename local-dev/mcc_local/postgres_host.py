"""The machine's side of a private PostgreSQL: its binaries, the OS account it runs as (never root), and
acting as that account: running its tools, owning its directories."""

from __future__ import annotations

import getpass
import glob
import logging
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from .users import ensure_user

logger = logging.getLogger(__name__)

ROOT_RUN_USERS = ("postgres", "mcc-postgres")


class PostgresError(RuntimeError):
    """A PostgreSQL tool failed; the message carries its output."""


def find_bindir() -> Path:
    """Locate the PostgreSQL server binaries: `pg_config --bindir`, else the newest Debian one."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and (bindir / "initdb").exists():
            return bindir
    candidates = [
        Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if Path(p, "initdb").exists()
    ]
    numeric = [p for p in candidates if p.parent.name.isdigit()]
    if numeric:
        return max(numeric, key=lambda p: int(p.parent.name))
    raise PostgresError(
        "PostgreSQL server binaries not found (no initdb via pg_config or in "
        "/usr/lib/postgresql/*/bin); run scripts/install or apt-get install postgresql"
    )


def run_user() -> str:
    """The OS user to run PostgreSQL as: ourselves, or a dedicated account when root."""
    if os.geteuid() != 0:
        return getpass.getuser()
    for name in ROOT_RUN_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    name = ROOT_RUN_USERS[-1]
    ensure_user(name)
    return name


def chown_to(os_user: str) -> str | None:
    """`os_user` when we are root and must hand files over to it; else None."""
    return os_user if os.geteuid() == 0 else None


def run_tool(
    bindir: Path, os_user: str, tool: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one of PostgreSQL's tools as `os_user`, without the caller's PG* settings."""
    argv = [str(bindir / tool), *args]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", os_user, "--", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # cwd=/ because initdb and pg_ctl complain when they cannot enter the caller's cwd.
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/")
    if check and result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise PostgresError(f"{tool} {args[0] if args else ''} failed: {output}")
    return result


def check_writable_by(os_user: str, directory: Path) -> None:
    """Refuse a data directory the run user cannot write (when root hands the cluster to another user)."""
    if os.geteuid() != 0:
        return
    result = subprocess.run(
        ["runuser", "-u", os_user, "--", "test", "-w", str(directory)],
        capture_output=True,
        cwd="/",
    )
    if result.returncode != 0:
        raise PostgresError(
            f"OS user {os_user} cannot write {directory}: make every parent "
            "directory traversable (chmod o+x) or choose a data directory outside "
            "private directories such as /root"
        )


def private_dir(path: Path, os_user: str) -> None:
    """Create `path` (mode 0700, owned by the run user), refusing links and foreign dirs."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The socket dir may sit in /tmp: never follow a planted symlink or adopt another
    # user's directory, least of all when we are root.
    info = os.lstat(path)
    run_uid = pwd.getpwnam(os_user).pw_uid
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (os.geteuid(), run_uid):
        raise PostgresError(
            f"{path} is not a directory owned by us or {os_user}; remove it or choose "
            "another path"
        )
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, 0o700)
        if os.geteuid() == 0:
            os.fchown(fd, run_uid, pwd.getpwnam(os_user).pw_gid)
    finally:
        os.close(fd)
