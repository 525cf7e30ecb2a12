"""The local model host: the sandboxes' deploy API on a Unix socket (Knative's stand-in on one machine).

Started by root (it makes cgroups and starts each model as `mcc-model`); the `models` function reaches it
through a socket only the group `mcc` may open. The launcher supervises it like every other process; tests
start one with `ModelHost`.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mcc_local import users
from model_builder.deploy import uds

ROOT = Path(__file__).resolve().parents[2]


def command(socket_path: Path, state_dir: Path, bundles: Path, *, group: str | None = None) -> list[str]:
    """`python -m model_builder.deploy.host` for this platform's directories."""
    args = [sys.executable, "-m", "model_builder.deploy.host", "--socket", str(socket_path),
            "--state-dir", str(state_dir), "--bundles-root", str(bundles), "--user", users.MODEL.user]
    return [*args, "--group", group or users.SHARED_GROUP]


def serving(socket_path: Path) -> bool:
    """The host answers on its socket."""
    try:
        status, _, _ = uds.request(str(socket_path), "GET", "/services", timeout=5)
    except (OSError, http.client.HTTPException):
        return False
    return status == 200


def wait_serving(socket_path: Path, timeout: float, *, alive: Callable[[], bool], log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not serving(socket_path):
        tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        if not alive():
            raise RuntimeError(f"the model host exited:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the model host did not answer within {timeout:.0f} s:\n{tail}")
        time.sleep(0.1)


def prepare(socket_path: Path, bundles: Path) -> None:
    """The socket's directory and the bundles' (written by the functions' user, read by the host)."""
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    bundles.mkdir(parents=True, exist_ok=True)
    if users.privileged():
        users.ensure_service_users()
        users.hand_over(bundles, users.APP, group=users.SHARED_GROUP, dir_mode=0o2755, file_mode=0o644)
        users.hand_over(socket_path.parent, None, group=users.SHARED_GROUP, dir_mode=0o750, file_mode=0o640)


class ModelHost:
    """A model host as a child process (tests; the launcher uses its process group instead)."""

    def __init__(self, socket_path: Path, state_dir: Path, bundles: Path) -> None:
        self.socket_path, self.state_dir, self.bundles = socket_path, state_dir, bundles
        self.log = state_dir / "model-host.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ModelHost:
        prepare(self.socket_path, self.bundles)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command(self.socket_path, self.state_dir / "instances", self.bundles),
                                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_serving(self.socket_path, 60, alive=lambda: self.process.poll() is None, log=self.log)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
