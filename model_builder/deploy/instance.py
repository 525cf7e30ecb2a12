"""One sandboxed runtime process serving one model version: start, call, diagnose, stop."""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import Executor
from enum import Enum
from pathlib import Path

from . import diagnostics, seccomp, uds
from .cgroups import CgroupTree, Counters, InstanceCgroup
from .interfaces import Failure, FailureKind, Reply, ServiceSpec
from .sandbox import SOCKET, Account, SandboxConfig, bwrap_command, etc_files, preexec

logger = logging.getLogger(__name__)

EXIT_WAIT_SECONDS = 5.0  # after a broken connection, how long the process gets to be seen dead


class State(str, Enum):
    """Where an instance is in its life."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"  # chosen to stop (idle too long, failed, undeployed); no request may take it
    STOPPED = "stopped"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Instance:
    """A runtime process in its sandbox, with its cgroup, run directory and log."""

    def __init__(self, spec: ServiceSpec, *, config: SandboxConfig, account: Account, tree: CgroupTree | None,
                 state_dir: Path, number: int, slot: int, launcher: Executor) -> None:
        self.spec = spec
        self.launcher = launcher
        self.config = config
        self.account = account
        self.tree = tree
        self.slot = slot
        self.name = f"{os.getpid()}-{spec.name}-{number}"
        self.dir = state_dir / self.name
        self.log = self.dir / "stderr.log"
        self.socket_path = str(self.dir / "run" / Path(SOCKET).name)
        self.state = State.STARTING
        self.last_used = time.monotonic()
        self.process: subprocess.Popen[bytes] | None = None
        self.cgroup: InstanceCgroup | None = None
        self._expired = threading.Event()
        self._request_seconds = spec.limits.request_seconds  # the wall clock of the request in flight
        self._stop_lock = threading.Lock()

    @property
    def pids(self) -> list[int]:
        """The sandbox's processes (bwrap and below) while it runs."""
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *descendants(self.process.pid)]

    def start(self) -> Failure | None:
        """Start the sandbox and wait until the runtime answers ready; a Failure (and nothing left) otherwise."""
        try:
            self._spawn()
        except (OSError, subprocess.SubprocessError) as error:  # a cgroup, a directory, bwrap itself
            logger.error("instance %s could not be started: %s", self.name, error)
            self.stop(grace=0)
            detail = f"the sandbox could not be started ({diagnostics.scrub(str(error))}): see the deploy host's log"
            return Failure(FailureKind.START, 502, detail, time.time())
        failure = self._wait_ready()
        if failure is not None:
            self.stop(grace=0)
            return failure
        self.state = State.BUSY  # ready, and taken by the request that started it
        logger.info("instance %s ready (%s)", self.name, self.tree.mechanism.value if self.tree else "rlimit")
        return None

    def _spawn(self) -> None:
        self.dir.mkdir(mode=0o711, parents=True)
        os.chmod(self.dir, 0o711)  # the sandbox user (running bwrap) must pass through to run/ and etc/
        run, etc = self.dir / "run", self.dir / "etc"
        run.mkdir(mode=0o700)
        os.chown(run, self.account.uid, self.account.gid)
        etc.mkdir(mode=0o755)
        for name, text in etc_files(self.account).items():
            (etc / name).write_text(text)
            os.chmod(etc / name, 0o644)
        if self.tree is not None:
            self.cgroup = self.tree.create(self.name, self.spec.limits)
        seccomp_fd = seccomp.bpf_file()
        try:
            argv = bwrap_command(self.config, self.account, self.spec, run_dir=run, etc_dir=etc, seccomp_fd=seccomp_fd)
            with self.log.open("wb") as log:
                # bwrap's --die-with-parent watches the *thread* that forked it: fork from the launcher's one
                # long-lived thread, never from a request's thread (its end would kill the instance).
                self.process = self.launcher.submit(
                    subprocess.Popen, argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/",
                    pass_fds=(seccomp_fd,), preexec_fn=preexec(self.account, self.spec.limits, self.cgroup, self.slot),
                ).result()
        finally:
            os.close(seccomp_fd)

    def _wait_ready(self) -> Failure | None:
        assert self.process is not None
        deadline = time.monotonic() + self.spec.limits.start_seconds
        delay = 0.005
        while True:
            if self.process.poll() is not None:
                return self._failure(FailureKind.START)
            if os.path.exists(self.socket_path):
                try:
                    status, _, _ = uds.request(self.socket_path, "GET", "/v2/health/ready", timeout=5)
                except (OSError, http.client.HTTPException):
                    status = 0
                if status == 200:
                    self._take_back_run_dir()
                    return None
            if time.monotonic() > deadline:
                self._kill()
                return self._failure(FailureKind.START, reason=(
                    f"the model did not become ready within {self.spec.limits.start_seconds:g} s"))
            try:
                self.process.wait(timeout=delay)  # sleeps, and wakes at once if the sandbox exits
            except subprocess.TimeoutExpired:
                pass
            delay = min(delay * 2, 0.01)  # a stat every 10 ms while starting is nothing; readiness seen at once

    def _take_back_run_dir(self) -> None:
        # The socket exists: from now on the model cannot create files on the host's disk through /run/model.
        run = self.dir / "run"
        os.chown(run, 0, 0)
        os.chmod(run, 0o755)

    def call(self, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> tuple[Reply, Failure | None]:
        """Forward one V2 infer request (within `timeout` seconds, if shorter than the service's limit); on a
        failure the instance is stopped and the Reply says why."""
        limits = self.spec.limits
        self._request_seconds = limits.request_seconds if timeout is None else min(limits.request_seconds, timeout)
        url = f"/v2/models/{self.spec.model_name}/versions/{self.spec.version}/infer"
        before = self._counters()
        self._expired.clear()
        timer = threading.Timer(self._request_seconds, self._expire)
        timer.daemon = True
        timer.start()
        try:
            status, reply_headers, data = uds.request(self.socket_path, "POST", url, body, headers,
                                                      timeout=self._request_seconds + EXIT_WAIT_SECONDS)
        except (OSError, http.client.HTTPException) as error:
            timer.cancel()
            logger.info("instance %s broke off a request: %s", self.name, type(error).__name__)
            self._await_exit()
            failure = self._failure(FailureKind.TIMEOUT if self._expired.is_set() else FailureKind.CRASH, before)
            self.stop(grace=0)
            return Reply.error(failure.status, failure.detail), failure
        timer.cancel()
        after = self._counters()
        if self._expired.is_set() or after != before or self.process is None or self.process.poll() is not None:
            kind = FailureKind.TIMEOUT if self._expired.is_set() else FailureKind.CRASH
            failure = self._failure(kind, before)
            self.stop(grace=0)
            if status < 400 and failure.kind is not FailureKind.TIMEOUT:  # the answer stands; the instance goes
                return Reply(status, reply_headers, data), failure
            return Reply.error(failure.status, failure.detail), failure
        return Reply(status, reply_headers, data), None

    def _expire(self) -> None:
        self._expired.set()
        logger.warning("instance %s ran past %g s; killing it", self.name, self._request_seconds)
        self._kill()

    def _await_exit(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=EXIT_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                pass

    def _counters(self) -> Counters:
        return self.cgroup.counters() if self.cgroup else Counters()

    def _failure(self, kind: FailureKind, before: Counters | None = None, reason: str | None = None) -> Failure:
        """Why the instance failed: the cgroup's counters first (they name the limit), then how it ended."""
        limits, counters = self.spec.limits, self._counters()
        before = before or Counters()
        returncode = self.process.poll() if self.process else None
        if counters.oom_kills > before.oom_kills:
            kind, status = FailureKind.MEMORY, 507
            message = f"the model ran out of memory (limit {diagnostics.size(limits.memory_bytes)})"
        elif counters.pid_limit_hits > before.pid_limit_hits:
            kind, status = FailureKind.PROCESSES, 507
            message = f"the model tried to run more than {limits.pids} processes and threads (its limit)"
        elif kind is FailureKind.TIMEOUT:
            status = 504
            message = f"the model took longer than {self._request_seconds:g} s (its limit); it was stopped"
        elif kind is FailureKind.START:
            status = 502
            message = reason or f"the model failed to start ({diagnostics.exit_reason(returncode)})"
        else:
            status = 502
            message = f"the model crashed while answering ({diagnostics.exit_reason(returncode)})"
        if kind in (FailureKind.START, FailureKind.CRASH):
            message = diagnostics.with_tail(message, self.log)
        logger.warning("instance %s failed: %s", self.name, kind.value)
        return Failure(kind, status, message, time.time())

    def _kill(self) -> None:
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the runtime, SIGKILL everything after `grace` seconds, then delete the cgroup and the files."""
        with self._stop_lock:
            if self.state is State.STOPPED:
                return
            self.state = State.STOPPED
        if self.process is not None and self.process.poll() is None:
            runtime = [pid for pid in descendants(self.process.pid) if _comm(pid) != "bwrap"]
            for pid in runtime if grace > 0 else []:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(timeout=grace if runtime and grace > 0 else 0.001)
            except subprocess.TimeoutExpired:
                self._kill()
                self.process.wait()
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        logger.info("instance %s stopped", self.name)
