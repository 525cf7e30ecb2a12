"""The bubblewrap sandbox one model instance runs in: what it sees, who it is, what it may use.

Inside: the bundle read-only at /bundle, the Python runtime and the shared libraries read-only, a size-capped /tmp,
/proc, a minimal /dev and /run/model (the socket). No network, no capabilities, a seccomp filter, its own user.
"""

from __future__ import annotations

import logging
import math
import os
import pwd
import resource
import shutil
import site
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import InstanceCgroup
from .errors import SandboxError
from .interfaces import Limits, ServiceSpec

logger = logging.getLogger(__name__)

BUNDLE = "/bundle"
RUN_DIR = "/run/model"
SOCKET = f"{RUN_DIR}/model.sock"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache",)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _package_dir() -> Path:
    return Path(__file__).resolve().parent.parent  # model_builder/


@dataclass(frozen=True)
class SandboxConfig:
    """How instances are sandboxed on this machine; the defaults run this interpreter's model_builder.runtime."""

    user: str = "mcc-model"
    bwrap: str = "bwrap"
    python: str = sys.executable
    runtime_dirs: tuple[Path, ...] = ()  # read-only; default: the interpreter, the venv, site-packages
    package_dir: Path = field(default_factory=_package_dir)  # model_builder/, bound alone (never the repo root)
    runtime_module: str = "model_builder.runtime"
    mechanism: str | None = None  # force "cgroup2", "cgroup1" or "rlimit"; None picks the first that works

    def resolved_runtime_dirs(self) -> tuple[Path, ...]:
        """The Python installation to bind read-only: base prefix, venv prefix, site-packages outside them."""
        if self.runtime_dirs:
            return tuple(Path(path) for path in self.runtime_dirs)
        dirs: list[Path] = []
        for candidate in (sys.base_prefix, sys.prefix, *site.getsitepackages()):
            path = Path(candidate)
            if path.is_dir() and not any(path.is_relative_to(kept) for kept in dirs):
                dirs.append(path)
        return tuple(dirs)


@dataclass(frozen=True)
class Account:
    """The unprivileged user instances run as."""

    name: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, name: str) -> Account:
        """The account `name`, or a SandboxError saying how to create it."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SandboxError(f"the sandbox user {name!r} does not exist",
                               f"create it: useradd --system --no-create-home --shell /usr/sbin/nologin {name}") from None
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise SandboxError(f"the sandbox user {name!r} is root or in group root", "use an unprivileged user")
        return cls(name, entry.pw_uid, entry.pw_gid)


def readable_by(account: Account, path: Path, *, list_it: bool = True) -> bool:
    """True when `account` can reach `path` (and list it, unless `list_it` is False), asked of the kernel as that
    user, so ACLs count."""
    test = shutil.which("test") or "/usr/bin/test"
    checks = ["-r", str(path), "-a", "-x", str(path)] if list_it else ["-x", str(path)]
    result = subprocess.run([test, *checks], user=account.uid, group=account.gid, extra_groups=[], check=False,
                            capture_output=True)
    return result.returncode == 0


def check_host(config: SandboxConfig, account: Account) -> None:
    """Refuse early, with the fix, what would make every sandbox fail to start."""
    if os.geteuid() != 0:
        raise SandboxError("the deploy host must start as root (it switches to the sandbox user and makes cgroups)",
                           "start it from the root launcher, or with sudo")
    if shutil.which(config.bwrap) is None:
        raise SandboxError(f"bubblewrap ({config.bwrap}) is not installed", "apt-get install bubblewrap")
    for path in (*config.resolved_runtime_dirs(), config.package_dir):
        if not readable_by(account, path):
            raise SandboxError(f"the sandbox user {account.name} cannot reach {path}",
                               f"let it pass through the closed directories above (e.g. setfacl --modify "
                               f"user:{account.name}:--x on each), as scripts/install does for the platform's users")


def _system_binds() -> list[str]:
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(config: SandboxConfig, account: Account, spec: ServiceSpec, *, run_dir: Path, etc_dir: Path,
                  seccomp_fd: int) -> list[str]:
    """The full argv: bwrap with every option, then the runtime serving `spec` on /run/model/model.sock."""
    limits = spec.limits
    threads = str(max(1, math.ceil(limits.cpus)))
    args = [config.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "model", "--seccomp", str(seccomp_fd), "--clearenv"]
    # The mounts that hide what is under them come first: a runtime or bundle under /tmp stays visible.
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
             "--size", str(limits.tmpfs_bytes), "--tmpfs", "/dev/shm"]
    args += _system_binds()
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(etc_dir / "group"), "/etc/group"]
    for path in config.resolved_runtime_dirs():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", str(config.package_dir), str(config.package_dir)]
    args += ["--ro-bind", str(spec.bundle_dir), BUNDLE, "--bind", str(run_dir), RUN_DIR,
             "--remount-ro", "/", "--chdir", BUNDLE]
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
                   "USER": account.name, "LOGNAME": account.name, "PYTHONPATH": str(config.package_dir.parent),
                   "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", **dict.fromkeys(THREAD_VARIABLES, threads)}
    for name, value in environment.items():
        args += ["--setenv", name, value]
    args += [config.python, "-m", config.runtime_module, "--bundle", BUNDLE, "--unix", SOCKET,
             "--name", spec.model_name, "--version", spec.version]
    return args


def etc_files(account: Account) -> dict[str, str]:
    """/etc/passwd and /etc/group inside: the sandbox user alone (so getpass and friends work)."""
    return {"passwd": f"{account.name}:x:{account.uid}:{account.gid}::/tmp:/usr/sbin/nologin\n",
            "group": f"{account.name}:x:{account.gid}:\n"}


def preexec(account: Account, limits: Limits, cgroup: InstanceCgroup | None, slot: int) -> Callable[[], None]:
    """What the child does between fork and exec of bwrap: enter the cgroup, set rlimits, become the user.

    Without a cgroup, instance number `slot` is pinned to its own CPU(s), round robin over the allowed ones.

    Runs in the forked child of a threaded process: plain system calls only (no imports, locks or logging).
    """
    procs = [path.encode() for path in cgroup.procs_files] if cgroup else []
    rlimits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, limits.tmpfs_bytes)]
    if cgroup is None:  # the fallback: per-process memory, per-user processes, one CPU
        rlimits += [(resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_NPROC, limits.pids)]
    allowed = sorted(os.sched_getaffinity(0))
    wanted = max(1, math.ceil(limits.cpus))
    cpus = {allowed[(slot * wanted + n) % len(allowed)] for n in range(wanted)} if cgroup is None else None

    def child() -> None:
        pid = str(os.getpid()).encode()
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)
        for which, value in rlimits:
            resource.setrlimit(which, (value, value))
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        os.setgroups([])
        os.setgid(account.gid)
        os.setuid(account.uid)

    return child
