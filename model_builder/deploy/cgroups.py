"""Where an instance's memory, process and CPU limits are enforced: a cgroup (v2 or v1), else rlimits.

Each instance gets its own cgroup under `<the host's own cgroup>/mcc-models`, named `<host pid>-<instance>`, so
two hosts on one machine never touch each other's; a host sweeps what a dead host left behind.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .errors import SandboxError
from .interfaces import Limits

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "mcc-models"
V1_CONTROLLERS = ("memory", "pids", "cpu")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


class Mechanism(str, Enum):
    """How an instance's limits are enforced."""

    CGROUP2 = "cgroup2"
    CGROUP1 = "cgroup1"
    RLIMIT = "rlimit"  # RLIMIT_AS, RLIMIT_NPROC (per user, not per instance) and one CPU by affinity


@dataclass(frozen=True)
class Counters:
    """What the kernel counted against an instance's limits so far."""

    oom_kills: int = 0
    pid_limit_hits: int = 0


def own_cgroups(text: str | None = None) -> dict[str, str]:
    """The host's cgroup per v1 controller, and per "" for the v2 hierarchy (from /proc/self/cgroup)."""
    text = Path("/proc/self/cgroup").read_text() if text is None else text
    paths: dict[str, str] = {}
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _read_counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _pids(procs: Path) -> list[int]:
    try:
        return [int(pid) for pid in procs.read_text().split()]
    except (OSError, ValueError):
        return []


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class InstanceCgroup:
    """One instance's cgroup (a directory per v1 controller, or one v2 directory)."""

    def __init__(self, mechanism: Mechanism, dirs: list[Path], counters: dict[str, tuple[Path, str]]) -> None:
        self.mechanism = mechanism
        self.dirs = dirs
        self._counters = counters

    @property
    def procs_files(self) -> list[str]:
        """The files a starting process writes its pid to, to enter this cgroup before it forks."""
        return [str(directory / "cgroup.procs") for directory in self.dirs]

    def counters(self) -> Counters:
        """The OOM kills and refused forks counted so far."""
        values = {name: _read_counter(path, key) for name, (path, key) in self._counters.items()}
        return Counters(**values)

    def pids(self) -> list[int]:
        """Every process in the cgroup."""
        found: set[int] = set()
        for directory in self.dirs:
            found.update(_pids(directory / "cgroup.procs"))
        return sorted(found)

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        kill_file = self.dirs[0] / "cgroup.kill"
        if self.mechanism is Mechanism.CGROUP2 and kill_file.exists():
            _write(kill_file, "1")
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self, timeout: float = 10.0) -> None:
        """Kill what is left and delete the cgroup (the kernel refuses until its processes are gone)."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        for directory in self.dirs:
            while directory.exists():
                try:
                    directory.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        logger.warning("cgroup %s still busy after %.0f s; left behind", directory, timeout)
                        break
                    self.kill()
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)


class CgroupTree:
    """The parent cgroup(s) instances are created in, for one mechanism."""

    mechanism: Mechanism

    def create(self, name: str, limits: Limits) -> InstanceCgroup:
        """A new cgroup for instance `name` with `limits` written."""
        raise NotImplementedError

    def parents(self) -> list[Path]:
        """The directories holding instance cgroups."""
        raise NotImplementedError

    def sweep(self) -> None:
        """Kill and delete the instance cgroups of hosts that no longer run (named `<pid>-…`)."""
        for parent in self.parents():
            for child in parent.iterdir() if parent.is_dir() else []:
                owner, _, _ = child.name.partition("-")
                if not child.is_dir() or not owner.isdigit() or _alive(int(owner)):
                    continue
                logger.info("removing instance cgroup %s left by host %s", child, owner)
                InstanceCgroup(self.mechanism, [child], {}).remove()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CgroupV1(CgroupTree):
    """cgroup v1: one hierarchy per controller (memory, pids, cpu), each mounted under /sys/fs/cgroup."""

    mechanism = Mechanism.CGROUP1

    def __init__(self, root: Path = CGROUP_ROOT, own: dict[str, str] | None = None) -> None:
        own = own_cgroups() if own is None else own
        self.bases = {name: root / name / own.get(name, "/").lstrip("/") / PARENT for name in V1_CONTROLLERS}
        for base in self.bases.values():
            base.mkdir(exist_ok=True)

    def parents(self) -> list[Path]:
        return list(self.bases.values())

    def create(self, name: str, limits: Limits) -> InstanceCgroup:
        dirs = {controller: base / name for controller, base in self.bases.items()}
        for directory in dirs.values():
            directory.mkdir()
        memory = dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():  # memory + swap = memory: no swap
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        else:
            logger.warning("swap accounting is off: cgroup v1 cannot forbid swap (boot with swapaccount=1)")
            _write(memory / "memory.swappiness", "0")
        _write(dirs["pids"] / "pids.max", str(limits.pids))
        _write(dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(dirs["cpu"] / "cpu.cfs_quota_us", str(int(limits.cpus * CPU_PERIOD_US)))
        counters = {"oom_kills": (memory / "memory.oom_control", "oom_kill"),
                    "pid_limit_hits": (dirs["pids"] / "pids.events", "max")}
        return InstanceCgroup(self.mechanism, list(dirs.values()), counters)


class CgroupV2(CgroupTree):
    """cgroup v2 with memory, pids and cpu delegated to the host's cgroup (systemd `Delegate=yes`)."""

    mechanism = Mechanism.CGROUP2

    def __init__(self, root: Path = CGROUP_ROOT, own: dict[str, str] | None = None) -> None:
        own = own_cgroups() if own is None else own
        base = root / own.get("", "/").lstrip("/")
        available = (base / "cgroup.controllers").read_text().split()
        missing = [name for name in V2_CONTROLLERS if name not in available]
        if missing:
            raise PermissionError(f"controllers {missing} are not delegated to {base}")
        wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS)
        enabled = (base / "cgroup.subtree_control").read_text().split()
        if any(name not in enabled for name in V2_CONTROLLERS):
            if base != root and _pids(base / "cgroup.procs"):
                # "no internal processes": the host's own processes move to a leaf before controllers are enabled.
                leaf = base / "mcc-host"
                leaf.mkdir(exist_ok=True)
                for pid in _pids(base / "cgroup.procs"):
                    _write(leaf / "cgroup.procs", str(pid))
            _write(base / "cgroup.subtree_control", wanted)
        self.base = base / PARENT
        self.base.mkdir(exist_ok=True)
        _write(self.base / "cgroup.subtree_control", wanted)

    def parents(self) -> list[Path]:
        return [self.base]

    def create(self, name: str, limits: Limits) -> InstanceCgroup:
        directory = self.base / name
        directory.mkdir()
        _write(directory / "memory.max", str(limits.memory_bytes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
        _write(directory / "pids.max", str(limits.pids))
        _write(directory / "cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
        counters = {"oom_kills": (directory / "memory.events", "oom_kill"),
                    "pid_limit_hits": (directory / "pids.events", "max")}
        return InstanceCgroup(self.mechanism, [directory], counters)


def detect(root: Path = CGROUP_ROOT, prefer: Mechanism | None = None) -> CgroupTree | None:
    """The first mechanism that works here (cgroup v2, v1), or None for rlimits; `prefer` forces one."""
    candidates: list[type[CgroupTree]] = [CgroupV2, CgroupV1]
    if prefer is Mechanism.RLIMIT:
        return None
    if prefer is not None:
        candidates = [cls for cls in candidates if cls.mechanism is prefer]
    for cls in candidates:
        if cls is CgroupV2 and not (root / "cgroup.controllers").exists():
            continue
        if cls is CgroupV1 and not all((root / name / "cgroup.procs").exists() for name in V1_CONTROLLERS):
            continue
        try:
            tree = cls(root)  # type: ignore[call-arg]
        except OSError as error:
            logger.info("%s is not usable here (%s)", cls.mechanism.value, error)
            continue
        tree.sweep()
        return tree
    if prefer is not None:
        raise SandboxError(f"{prefer.value} cannot be used under {root}",
                           "leave the mechanism unset to use the first that works here")
    return None
