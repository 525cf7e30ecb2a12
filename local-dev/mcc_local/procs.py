"""Child-process plumbing shared by the local launcher and its `down` command."""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .users import RunAs

logger = logging.getLogger(__name__)

_POLL_INTERVAL = 0.1


_handed_out: set[int] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, never one this process got before
    (the kernel may offer a just-closed port again, and callers often pick several ports up front)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port found on 127.0.0.1")


@contextmanager
def scratch_dir(prefix: str, *, mode: int = 0o755, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary directory for a throwaway platform's state, removed afterwards unless `keep`.

    Its `mode` lets other OS users traverse it: as root, PostgreSQL runs as another user, which must
    reach its data directory below (a directory from tempfile alone is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(mode)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def write_private_file(
    path: Path, data: str | bytes, *, mode: int = 0o600, owner: str | None = None
) -> None:
    """Atomically replace `path` with `data`, created with `mode` (and chowned to `owner`)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)  # os.open's mode is filtered by the umask.
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(tmp, entry.pw_uid, entry.pw_gid)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def wait_for_http(
    url: str,
    timeout: float,
    verify: bool | str | Path = False,
    *,
    headers: Mapping[str, str] | None = None,
    ready: Callable[[int], bool] = lambda status: status < 500,
    alive: Callable[[], bool] | None = None,
) -> int:
    """Poll `url` until `ready(status)` holds (or `alive()` turns false); return the status."""
    # verify: False for self-signed local certs, True for the system store, or a CA file.
    if isinstance(verify, (str, Path)):
        context = ssl.create_default_context(cafile=str(verify))
    elif verify:
        context = ssl.create_default_context()
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # No proxies: an http_proxy in the environment must not capture loopback checks.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    while True:
        if alive is not None and not alive():
            raise RuntimeError(f"server process exited while waiting for {url} ({last_error})")
        request = urllib.request.Request(url, headers=dict(headers or {}))
        try:
            with opener.open(request, timeout=2) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (OSError, ValueError) as exc:
            status = 0
            last_error = f"{type(exc).__name__}: {exc}"
        if status and ready(status):
            return status
        if status:
            last_error = f"HTTP {status}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} not ready after {timeout:.0f} s (last: {last_error})")
        time.sleep(_POLL_INTERVAL * 2)


def wait_for_port(port: int, timeout: float, *, alive: Callable[[], bool] | None = None) -> None:
    """Poll until something accepts TCP connections on 127.0.0.1:`port` (or `alive()` turns false)."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise RuntimeError(f"server process exited while waiting for port {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")
        time.sleep(_POLL_INTERVAL)


@dataclass(frozen=True)
class ProcessRecord:
    """What a pid file says about one started process."""

    name: str
    pid: int
    start_ticks: int | None
    argv: list[str]
    log_path: str
    sequence: int


def _start_ticks(pid: int) -> int | None:
    """Kernel start time of `pid` (guards against pid reuse), None if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; the rest follows the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def _is_alive(pid: int, start_ticks: int | None) -> bool:
    """True if `pid` is running, is not a zombie, and is the process we started."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat_path = Path(f"/proc/{pid}/stat")
    if not stat_path.exists():
        return True  # No procfs: trust kill(0).
    try:
        stat = stat_path.read_text()
    except OSError:
        return False
    if stat[stat.rindex(")") + 2 :].split()[0] == "Z":
        return False
    return start_ticks is None or _start_ticks(pid) == start_ticks


class ProcessGroup:
    """Child processes with pid files in `state_dir`, so another command can stop them."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def pid_dir(self) -> Path:
        """Directory holding one `<name>.pid` JSON file per started process."""
        return self.state_dir / "pids"

    @property
    def log_dir(self) -> Path:
        """Default directory for process logs."""
        return self.state_dir / "logs"

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        log_path: Path | None = None,
        run_as: RunAs | None = None,
        inherit_output: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in its own session with stdout/stderr appended to a log file, or with ours when
        `inherit_output` (as `run_as` when root)."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"name: {name!r} is not a valid process name")
        if not argv:
            raise ValueError("argv: must not be empty")
        record = self.record(name)
        if record is not None and _is_alive(record.pid, record.start_ticks):
            raise RuntimeError(
                f"{name} is already running (pid {record.pid}); stop it first "
                f"or remove {self._pid_path(name)} if that pid is not ours"
            )
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        log = Path(log_path) if log_path is not None else self.log_dir / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        # Logs may show links and paths a user should not share: private by default.
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(log_fd, "ab") as log_file:
            # A new session keeps a terminal's Ctrl-C away from the children: the
            # launcher decides the shutdown order.
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=None if inherit_output else log_file,
                stderr=None if inherit_output else subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                **(run_as.popen_kwargs() if run_as is not None else {}),
            )
        self._children[name] = process
        sequence = max((r.sequence for r in self.records()), default=0) + 1
        payload = {
            "name": name,
            "pid": process.pid,
            "start_ticks": _start_ticks(process.pid),
            "argv": list(argv),
            "log_path": str(log),
            "sequence": sequence,
        }
        tmp = self._pid_path(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(self._pid_path(name))
        logger.info("started %s (pid %d), log %s", name, process.pid, log)
        return process

    def record(self, name: str) -> ProcessRecord | None:
        """The pid file of `name`, or None if there is none (or it is unreadable)."""
        path = self._pid_path(name)
        try:
            data = json.loads(path.read_text())
            return ProcessRecord(
                name=str(data["name"]),
                pid=int(data["pid"]),
                start_ticks=data.get("start_ticks"),
                argv=list(data.get("argv", [])),
                log_path=str(data.get("log_path", "")),
                sequence=int(data.get("sequence", 0)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable pid file %s: %s", path, exc)
            return None

    def records(self) -> list[ProcessRecord]:
        """All pid files, in start order."""
        if not self.pid_dir.is_dir():
            return []
        found = (self.record(p.stem) for p in self.pid_dir.glob("*.pid"))
        return sorted((r for r in found if r is not None), key=lambda r: r.sequence)

    def is_running(self, name: str) -> bool:
        """True if the process recorded as `name` is alive."""
        child = self._children.get(name)
        if child is not None and child.poll() is not None:
            return False
        record = self.record(name)
        return record is not None and _is_alive(record.pid, record.start_ticks)

    def running(self) -> dict[str, int]:
        """Names and pids of recorded processes that are alive."""
        return {r.name: r.pid for r in self.records() if _is_alive(r.pid, r.start_ticks)}

    def stop(self, name: str, timeout: float = 10.0, *, first: signal.Signals = signal.SIGTERM) -> None:
        """Stop `name`: `first` (SIGTERM) to its process group, SIGKILL after `timeout`; idempotent."""
        record = self.record(name)
        child = self._children.pop(name, None)
        if record is not None and _is_alive(record.pid, record.start_ticks):
            self._terminate(record, child, timeout, first)
        elif child is not None:
            child.poll()
        self._pid_path(name).unlink(missing_ok=True)

    def kill(self, name: str) -> None:
        """SIGKILL `name` and its process group at once, as a crash or the OOM killer would; idempotent."""
        self.stop(name, first=signal.SIGKILL)

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop every recorded process, the last started first."""
        for record in reversed(self.records()):
            self.stop(record.name, timeout)
        for name in list(self._children):
            self.stop(name, timeout)

    def _terminate(
        self, record: ProcessRecord, child: subprocess.Popen[bytes] | None, timeout: float,
        first: signal.Signals = signal.SIGTERM,
    ) -> None:
        logger.info("stopping %s (pid %d) with %s", record.name, record.pid, first.name)
        self._signal(record.pid, first)
        if self._wait_gone(record, child, timeout):
            return
        logger.warning("%s did not stop within %.0f s; sending SIGKILL", record.name, timeout)
        self._signal(record.pid, signal.SIGKILL)
        if not self._wait_gone(record, child, 5.0):
            raise RuntimeError(f"{record.name} (pid {record.pid}) survived SIGKILL")

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)  # Our children lead their own session: reach grandchildren.
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def _wait_gone(
        record: ProcessRecord, child: subprocess.Popen[bytes] | None, timeout: float
    ) -> bool:
        if child is not None:
            try:
                child.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _is_alive(record.pid, record.start_ticks):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_INTERVAL)
        return True

    def _pid_path(self, name: str) -> Path:
        return self.pid_dir / f"{name}.pid"
