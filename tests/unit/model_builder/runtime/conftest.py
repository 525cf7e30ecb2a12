"""Runtimes as real processes: `serve(bundle)` starts `python -m model_builder.runtime` and waits for its socket."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcc_local.procs import free_port

from model_builder import Application, Volume
from model_builder.runtime.client import ModelClient
from model_builder.testing import CLASSICAL_TEMPLATE as CLASSICAL
from model_builder.testing import synthetic_ct

ROOT = Path(__file__).resolve().parents[4]
START_DEADLINE = 60.0  # seconds; generous for a busy 2-core machine


@dataclass
class Runtime:
    """A running runtime process and how to reach it."""

    process: subprocess.Popen
    log: Path
    unix: str | None = None
    port: int | None = None

    def client(self, name: str = "ct-body-mask", version: str | None = None) -> ModelClient:
        """A V2 client for the model `name` of this runtime."""
        return ModelClient(name, version=version, unix=self.unix, port=self.port)

    def connection(self) -> socket.socket:
        """A raw connected socket, for requests a well-behaved client would not send."""
        if self.unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.unix)
        else:
            sock = socket.create_connection(("127.0.0.1", self.port))
        sock.settimeout(30)
        return sock

    def stop(self) -> int:
        """SIGTERM, then the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def runtime_command(bundle: Path, *args: str) -> list[str]:
    """The command the deployer runs, with the repository's Python."""
    return [sys.executable, "-m", "model_builder.runtime", "--bundle", str(bundle), *args]


def runtime_env() -> dict[str, str]:
    """The environment of a runtime process: the repository importable, no bytecode written."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def _reachable(runtime: Runtime) -> bool:
    try:
        runtime.connection().close()
        return True
    except OSError:
        return False


def start_runtime(bundle: Path, folder: Path, *, tcp: bool = False, args: tuple[str, ...] = (),
                  env: dict[str, str] | None = None) -> Runtime:
    """Start a runtime and poll until its socket or port accepts connections (or it exits)."""
    log = folder / "runtime.log"
    where = ("--port", str(free_port())) if tcp else ("--unix", str(folder / "model.sock"))
    process = subprocess.Popen(runtime_command(bundle, *where, *args), cwd=folder, env=env or runtime_env(),
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    runtime = Runtime(process, log, unix=None if tcp else where[1], port=int(where[1]) if tcp else None)
    deadline = time.monotonic() + START_DEADLINE
    while not _reachable(runtime):
        if process.poll() is not None:
            raise AssertionError(f"the runtime exited with {process.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            runtime.stop()
            raise AssertionError(f"the runtime did not become ready: {log.read_text()}")
        time.sleep(0.01)
    return runtime


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path: a Unix socket's path is at most 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="mcc-rt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve(short_dir: Path) -> Iterator[Callable[..., Runtime]]:
    """Start runtimes for a test; each is stopped (SIGTERM) at its end."""
    started: list[Runtime] = []

    def start(bundle: Path, *, tcp: bool = False, args: tuple[str, ...] = (),
              env: dict[str, str] | None = None, folder: Path | None = None) -> Runtime:
        folder = folder or Path(tempfile.mkdtemp(dir=short_dir))
        started.append(start_runtime(bundle, folder, tcp=tcp, args=args, env=env))
        return started[-1]

    yield start
    for runtime in started:
        runtime.stop()


@pytest.fixture(scope="module")
def classical() -> Iterator[Runtime]:
    """The classical template served on a Unix socket, shared by a module's tests."""
    folder = Path(tempfile.mkdtemp(prefix="mcc-rt-", dir="/tmp"))
    runtime = start_runtime(CLASSICAL, folder)
    yield runtime
    runtime.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def classical_app() -> Application:
    """The classical template's Application, built in this process (to compare with what the runtime answers)."""
    spec = importlib.util.spec_from_file_location("classical_template_app", CLASSICAL / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BodyMaskApplication(CLASSICAL)


@pytest.fixture
def body_ct() -> Volume:
    """A small synthetic CT the classical template masks."""
    return synthetic_ct()


@pytest.fixture
def run_runtime(short_dir: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the runtime's command to its end (for starts that must fail), in a short folder."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "model_builder.runtime", *args], cwd=short_dir,
                              env=runtime_env(), capture_output=True, text=True, timeout=START_DEADLINE)

    return run
