"""The runtime as the deployer runs it: exit statuses, readiness, SIGTERM, one inference at a time, a light start."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from model_builder import Volume
from model_builder.runtime.client import ModelClient
from model_builder.testing import CLASSICAL_TEMPLATE, write_bundle

DEADLINE = 60.0
HEAVY = ("torch", "monai", "flask", "werkzeug", "kserve", "requests", "fastapi", "uvicorn")


def _poll(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_bundle_that_fails_at_import_exits_non_zero_with_one_clear_line(run_runtime, short_dir):
    bundle = write_bundle(short_dir / "b", "fails_at_import")
    result = run_runtime("--bundle", str(bundle), "--unix", str(short_dir / "m.sock"))
    assert result.returncode == 3
    assert result.stderr == ("model runtime: cannot load the bundle: importing 'app' failed: ModuleNotFoundError:"
                             " No module named 'a_package_nobody_installed': install it in the runtime's environment"
                             " or remove the import (at app.py:3)\n")
    assert not (short_dir / "m.sock").exists()


def test_bad_arguments_exit_2_and_a_path_that_is_not_a_socket_is_left_alone(run_runtime, short_dir):
    assert run_runtime("--bundle", str(CLASSICAL_TEMPLATE)).returncode == 2  # neither --unix nor --port
    taken = short_dir / "taken"
    taken.write_text("keep me")
    result = run_runtime("--bundle", str(CLASSICAL_TEMPLATE), "--unix", str(taken))
    assert result.returncode == 3 and "exists and is not a socket: choose another --unix path" in result.stderr
    assert taken.read_text() == "keep me"


def test_sigterm_exits_0_and_removes_the_socket(serve):
    runtime = serve(CLASSICAL_TEMPLATE)
    assert runtime.client().ready()
    assert runtime.stop() == 0
    assert not os.path.exists(runtime.unix)
    assert "stopping on SIGTERM" in runtime.log.read_text()


def test_a_stale_socket_left_by_a_killed_runtime_is_replaced(serve):
    first = serve(CLASSICAL_TEMPLATE)
    first.process.kill()
    first.process.wait(timeout=DEADLINE)
    assert os.path.exists(first.unix)  # SIGKILL leaves the socket file behind
    second = serve(CLASSICAL_TEMPLATE, folder=Path(first.unix).parent)
    assert second.unix == first.unix and second.client().ready()


def _infer_in_thread(runtime, volume: Volume, results: list) -> threading.Thread:
    def call() -> None:
        results.append(runtime.client("test-model").infer(volume))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_health_answers_during_an_inference_and_inferences_run_one_at_a_time(serve, short_dir):
    runtime = serve(write_bundle(short_dir / "w", "waits"))
    journal, releases = short_dir / "journal", [short_dir / "release-a", short_dir / "release-b"]
    volumes = [Volume(np.zeros((1, 2, 2), np.int16), attributes={"ReleaseFile": str(r), "Journal": str(journal)})
               for r in releases]
    results: list = []
    first = _infer_in_thread(runtime, volumes[0], results)
    _poll(lambda: Path(f"{releases[0]}.started").exists(), "the first inference to start")
    assert runtime.client("test-model").ready()  # answered while the model is busy
    releases[1].write_text("")  # the second would finish at once if it ran now
    second = _infer_in_thread(runtime, volumes[1], results)
    assert not Path(f"{releases[1]}.started").exists()
    releases[0].write_text("")
    first.join(DEADLINE)
    second.join(DEADLINE)
    assert len(results) == 2
    assert journal.read_text().split() == [f"start:{releases[0]}", f"end:{releases[0]}",
                                           f"start:{releases[1]}", f"end:{releases[1]}"]


def test_sigterm_during_an_inference_stops_listening_then_lets_it_answer(serve, short_dir):
    runtime = serve(write_bundle(short_dir / "w", "waits"))
    release = short_dir / "release"
    results: list = []
    thread = _infer_in_thread(runtime, Volume(np.zeros((1, 2, 2), np.int16), attributes={"ReleaseFile": str(release)}),
                              results)
    _poll(lambda: Path(f"{release}.started").exists(), "the inference to start")
    runtime.process.send_signal(signal.SIGTERM)
    _poll(lambda: not os.path.exists(runtime.unix), "the socket to go")
    assert runtime.process.poll() is None  # still finishing the inference
    release.write_text("")
    thread.join(DEADLINE)
    assert results and results[0][0][0].array.shape == (1, 2, 2), runtime.log.read_text()
    assert runtime.process.wait(timeout=DEADLINE) == 0


def test_serving_writes_no_bytecode_into_the_bundle(serve, short_dir, body_ct):
    bundle = shutil.copytree(CLASSICAL_TEMPLATE, short_dir / "bundle", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[4])
    runtime = serve(bundle, env=env)
    assert runtime.client().infer(body_ct)[0]
    assert runtime.stop() == 0
    assert sorted(p.name for p in bundle.iterdir()) == ["app.py", "manifest.json"]


def test_the_classical_runtime_imports_no_heavy_framework(serve):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4]), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPROFILEIMPORTTIME": "1"}
    runtime = serve(CLASSICAL_TEMPLATE, env=env)
    assert runtime.client().ready()
    runtime.stop()
    imported = {line.split("|")[-1].strip().split(".")[0] for line in runtime.log.read_text().splitlines()
                if line.startswith("import time:")}
    assert {"numpy", "scipy", "socketserver"} <= imported
    assert not imported & set(HEAVY), imported & set(HEAVY)


def _sandbox(bundle: Path, socket_dir: Path) -> list[str]:
    """bubblewrap as the deployer uses it: bundle, code and Python read-only, /tmp a tmpfs, no network."""
    root = Path(__file__).resolve().parents[4]
    mounts = {Path("/usr"), Path("/etc"), Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), root}
    command = ["bwrap", "--unshare-all", "--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--dir", "/run", "--bind", str(socket_dir), "/run/model", "--ro-bind", str(bundle), "/bundle"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path(f"/{link}").is_symlink():
            command += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    for mount in sorted(mounts):
        command += ["--ro-bind", str(mount), str(mount)]
    return command + ["--chdir", "/tmp", "--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONPATH", str(root),
                      sys.executable, "-m", "model_builder.runtime", "--bundle", "/bundle",
                      "--unix", "/run/model/model.sock", "--name", "body", "--version", "2"]


def _runtime_pid(pid: int) -> int:
    """The host pid of the runtime among a process's descendants (bwrap forks twice)."""
    pending = [pid]
    while pending:
        current = pending.pop()
        if Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"model_builder.runtime"]:
            return current
        children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        pending.extend(int(child) for child in children)
    raise AssertionError(f"no runtime process under {pid}")


def test_the_runtime_serves_a_read_only_bundle_inside_a_network_less_sandbox(short_dir, body_ct, classical_app):
    bundle = shutil.copytree(CLASSICAL_TEMPLATE, short_dir / "bundle", ignore=shutil.ignore_patterns("__pycache__"))
    sockets = short_dir / "run"
    sockets.mkdir()
    log = short_dir / "sandbox.log"
    process = subprocess.Popen(_sandbox(bundle, sockets), stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        client = ModelClient("body", version="2", unix=str(sockets / "model.sock"))
        _poll(lambda: (sockets / "model.sock").exists() or process.poll() is not None, "the sandboxed runtime")
        assert process.poll() is None, log.read_text()
        np.testing.assert_array_equal(client.infer(body_ct)[0][0].array, classical_app.run(body_ct).array)
    finally:
        # SIGTERM to bwrap would kill the sandbox at once (SIGKILL via --die-with-parent): signal the runtime itself
        os.kill(_runtime_pid(process.pid), signal.SIGTERM)
        assert process.wait(timeout=DEADLINE) == 0, log.read_text()  # bwrap exits with the runtime's status
    assert "stopping on SIGTERM" in log.read_text() and not (sockets / "model.sock").exists()
    assert sorted(p.name for p in bundle.iterdir()) == ["app.py", "manifest.json"]
