"""A registry on loopback for development and tests: Debian's `docker-registry` (distribution 2.8) with its
filesystem storage in a directory of ours, listening on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from .errors import RegistryError

BINARY = "/usr/bin/docker-registry"


class LoopbackRegistry:
    """`docker-registry serve` on 127.0.0.1:`port`, state under `root` (blobs in root/storage, log in root/log)."""

    def __init__(self, root: Path, port: int) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port: {port} is not a TCP port number")
        self.root = root
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.root / "registry.pid"

    def config(self) -> str:
        """The registry's YAML configuration: loopback, filesystem storage, deletes allowed, quiet logs."""
        return (f"version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'storage'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.address}\n  secret: loopback-only-{self.port}\n")

    def start(self, timeout: float = 30.0) -> None:
        """Start it (detached from our terminal's signals) and wait until /v2/ answers."""
        if shutil.which(BINARY) is None:
            raise RegistryError(self.address, f"{BINARY} is missing: apt-get install docker-registry")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(self.config())
        log = open(self.root / "registry.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.pid_file.write_text(str(self.process.pid))
        self.wait(timeout)

    def answering(self) -> bool:
        try:
            return requests.get(f"http://{self.address}/v2/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.answering():
            if self.process is not None and self.process.poll() is not None:
                raise RegistryError(self.address, f"docker-registry exited ({self.process.returncode}); "
                                                  f"see {self.root / 'registry.log'}")
            if time.monotonic() > deadline:
                raise RegistryError(self.address, f"no answer on /v2/ within {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the registry this object (or the pid file, for a detached one) started."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        elif self.pid_file.is_file():
            pid = self.pid_file.read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline")
            if pid.isdigit() and cmdline.is_file() and cmdline.read_bytes().startswith(BINARY.encode()):
                os.kill(int(pid), signal.SIGTERM)  # only the registry we started, never a reused pid
                deadline = time.monotonic() + 10
                while self.answering() and time.monotonic() < deadline:
                    time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> LoopbackRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
