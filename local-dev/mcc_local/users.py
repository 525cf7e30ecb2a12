"""Who each process of the local platform runs as, and what each may read.

Started by root, the launcher runs every long-running process as its own unprivileged system user
(created by scripts/install, or here if missing), and hands each only the keys it needs:

| user          | process                                             | keys (under KEY_DIR)                        |
|---------------|-----------------------------------------------------|---------------------------------------------|
| `postgres`    | PostgreSQL                                          | none                                        |
| `mcc-orthanc` | Orthanc and its storage plugin                      | `orthanc/` (its own KEK)                    |
| `mcc-auth`    | the `auth` function                                 | `signing/` (its own); `platform/` read-only |
| `mcc-app`     | the origin (other functions, portal, viewer), audit anchoring, the HTTP redirect, the SMTP sink | `platform/` read-only |

`mcc-auth` and `mcc-app` share the group `mcc`, which may read the platform keys and write the object
storage; no process may change a key. Started by anyone else (a developer's own account), every process
runs as that account and the same files are simply theirs.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SHARED_GROUP = "mcc"


@dataclass(frozen=True)
class RunAs:
    """An unprivileged system user a process runs as, with its supplementary groups."""

    user: str
    groups: tuple[str, ...] = ()
    umask: int = 0o077  # what the process creates is its own; 0o007 where its group shares it

    def popen_kwargs(self) -> dict[str, Any]:
        """What `subprocess.Popen` needs to start a process as this user (nothing unless we are root)."""
        if not privileged():
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": list(self.groups), "umask": self.umask}


POSTGRES = RunAs("postgres")
ORTHANC = RunAs("mcc-orthanc")
AUTH = RunAs("mcc-auth", (SHARED_GROUP,), umask=0o007)  # the object storage is the group's
APP = RunAs("mcc-app", (SHARED_GROUP,), umask=0o007)
# Model code runs as this user inside its sandbox: no group, no key, nothing of the platform readable.
MODEL = RunAs("mcc-model")
SERVICE_USERS = (ORTHANC, AUTH, APP, MODEL)


def privileged() -> bool:
    """True when started by root: then every process is handed to its own user."""
    return os.geteuid() == 0


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        logger.info("creating system group %s", name)
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)


def ensure_user(name: str, groups: tuple[str, ...] = ()) -> None:
    """Create system user `name` (its own group, no home, no shell) if missing; add it to `groups`."""
    for group in groups:
        ensure_group(group)
    try:
        pwd.getpwnam(name)
    except KeyError:
        logger.info("creating system user %s", name)
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    missing = [g for g in groups if name not in grp.getgrnam(g).gr_mem]
    if missing:
        subprocess.run(["usermod", "--append", "--groups", ",".join(missing), name], check=True, capture_output=True)


def ensure_service_users() -> None:
    """The platform's users and their shared group (idempotent; root only)."""
    for run_as in SERVICE_USERS:
        ensure_user(run_as.user, run_as.groups)


def hand_over(path: Path, owner: RunAs | None, *, group: str | None = None, dir_mode: int = 0o700,
              file_mode: int = 0o600) -> None:
    """Give the tree at `path` to `owner` (root keeps it when None) and `group`, directories `dir_mode`, files
    `file_mode`; nothing when not root (everything is the developer's already). Symbolic links are refused."""
    if not privileged():
        return
    uid = pwd.getpwnam(owner.user).pw_uid if owner else 0
    gid = grp.getgrnam(group or (owner.user if owner else "root")).gr_gid
    for current, dirs, files in os.walk(path):
        for name in [current, *(os.path.join(current, f) for f in files)]:
            info = os.lstat(name)
            if stat.S_ISLNK(info.st_mode):
                raise RuntimeError(f"{name} is a symbolic link; the platform's state holds none")
            os.chown(name, uid, gid)
            os.chmod(name, dir_mode if stat.S_ISDIR(info.st_mode) else file_mode)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]


def grant_traverse(path: Path, users: tuple[RunAs, ...] = SERVICE_USERS) -> None:
    """Let `users` reach `path` (the checkout, the Python interpreter, the state directory): each ancestor that
    others may not enter gets an ACL entry allowing these users to pass through it (search, not list)."""
    if not privileged():
        return
    setfacl = shutil.which("setfacl")
    for ancestor in reversed(Path(path).resolve().parents):
        if os.stat(ancestor).st_mode & stat.S_IXOTH:
            continue
        if setfacl is None:
            raise RuntimeError(f"{ancestor} is closed to the platform's users and setfacl is missing: "
                               "install the Debian package acl (scripts/install does)")
        for run_as in users:
            subprocess.run([setfacl, "--modify", f"user:{run_as.user}:--x", str(ancestor)], check=True,
                           capture_output=True)


if __name__ == "__main__":  # scripts/install: create the users up front
    if not privileged():
        raise SystemExit("mcc_local.users: run as root to create the platform's users")
    ensure_service_users()
