"""The deploy host: a real root process serving the Deployer API on a 0660 Unix socket, and `HostClient`."""

from __future__ import annotations

import grp
import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model_builder import Volume
from model_builder.deploy import Deployer, ServiceConflict, ServiceSpec, SpecError, UnknownService, uds
from model_builder.deploy.client import HostClient
from model_builder.deploy.host import parse_size
from tests.model_services.helpers import assert_serves_body_mask, error_of, probe, runtime_processes, wait_for

REPO = Path(__file__).resolve().parents[2]
GROUP = "mcc"


@pytest.fixture(scope="module")
def host(bundles_root: Path, sandbox_user: str) -> Iterator[dict[str, Any]]:
    """`python -m model_builder.deploy.host` as root, its socket in a folder others may pass through."""
    with tempfile.TemporaryDirectory(prefix="mcc-host-") as folder:
        Path(folder).chmod(0o755)
        socket_path = Path(folder) / "deploy.sock"
        state_dir = Path(folder) / "state"
        process = subprocess.Popen(
            [sys.executable, "-m", "model_builder.deploy.host", "--socket", str(socket_path), "--state-dir",
             str(state_dir), "--bundles-root", str(bundles_root), "--user", sandbox_user, "--group", GROUP,
             "--idle-seconds", "60", "--memory", "1GiB"],
            cwd=REPO, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: socket_path.exists() or process.poll() is not None, what="the host's socket")
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            yield {"process": process, "socket": socket_path, "client": HostClient(socket_path)}
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def raw(host: dict[str, Any], method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    status, _, content = uds.request(str(host["socket"]), method, path, body)
    return status, json.loads(content)


def can_connect_as(user: str, socket_path: Path) -> bool:
    """Whether `user`, with exactly its own groups, may open the socket."""
    account = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    code = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
    result = subprocess.run(["/usr/bin/python3", "-c", code, str(socket_path)], user=account.pw_uid,
                            group=account.pw_gid, extra_groups=groups, capture_output=True, text=True, check=False,
                            cwd="/")
    assert result.returncode == 0 or "PermissionError" in result.stderr, result.stderr
    return result.returncode == 0


def test_socket_is_open_to_the_group_only(host: dict[str, Any]) -> None:
    info = os.stat(host["socket"])
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o660
    assert (info.st_uid, info.st_gid) == (0, grp.getgrnam(GROUP).gr_gid)
    assert can_connect_as("mcc-app", host["socket"])  # the models function's user, a member of mcc
    assert not can_connect_as("mcc-model", host["socket"])  # not in the group: a model cannot drive the host


def test_client_is_a_deployer_serving_through_the_host(host: dict[str, Any], bundles_root: Path, ct: Volume,
                                                       body_mask_reference: object) -> None:
    client: HostClient = host["client"]
    assert isinstance(client, Deployer)
    client.deploy(ServiceSpec("remote", bundles_root / "classical", "remote-mask", "1"))
    status = client.status("remote")
    assert (status.state, status.instances, status.mechanism) == ("idle", 0, "cgroup1")
    assert_serves_body_mask(client, "remote", ct, body_mask_reference)
    assert client.status("remote").state == "ready" and len(runtime_processes("remote-mask")) == 1
    assert [s.name for s in client.services()] == ["remote"]
    client.undeploy("remote")
    assert runtime_processes("remote-mask") == []
    with pytest.raises(UnknownService, match="'remote'"):
        client.status("remote")
    with pytest.raises(UnknownService):
        probe(client, "remote", "sleep", seconds=0)


def test_host_fills_its_defaults_into_specs(host: dict[str, Any], bundles_root: Path) -> None:
    status, body = raw(host, "PUT", "/services/defaults", json.dumps(
        {"bundle_dir": str(bundles_root / "probe"), "model_name": "defaults", "version": "1"}).encode())
    assert status == 200 and body["state"] == "idle"
    status, body = raw(host, "PUT", "/services/defaults", json.dumps(
        {"bundle_dir": str(bundles_root / "probe"), "model_name": "defaults", "version": "1", "idle_seconds": 60,
         "limits": {"memory_bytes": parse_size("1GiB")}}).encode())
    assert status == 200  # the same spec the defaults made: no conflict
    raw(host, "DELETE", "/services/defaults")


def test_model_failures_pass_through_as_v2_errors(host: dict[str, Any], bundles_root: Path) -> None:
    client: HostClient = host["client"]
    client.deploy(ServiceSpec("remote-broken", bundles_root / "broken", "remote-broken", "1"))
    reply = probe(client, "remote-broken", "sleep", seconds=0)
    assert reply.status == 502 and error_of(reply).startswith("the model failed to start (exit code 3)")
    assert client.status("remote-broken").last_failure.kind.value == "start"
    client.undeploy("remote-broken")


def test_bundle_dir_outside_the_bundles_root_is_refused(host: dict[str, Any], bundles_root: Path,
                                                        tmp_path: Path) -> None:
    client: HostClient = host["client"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "manifest.json").write_text("{}")
    link = bundles_root / "link-out"
    link.symlink_to(outside)
    try:
        climbing = Path(bundles_root, *[".."] * (len(bundles_root.parts) - 1), *outside.parts[1:])
        for bundle_dir in (outside, link, climbing):
            with pytest.raises(SpecError, match="outside the bundles root") as refused:
                client.deploy(ServiceSpec("sneaky", bundle_dir, "sneaky", "1"))
            assert refused.value.field == "bundle_dir"
    finally:
        link.unlink()
    with pytest.raises(SpecError, match="does not exist"):
        client.deploy(ServiceSpec("sneaky", bundles_root / "missing", "sneaky", "1"))
    with pytest.raises(UnknownService):
        client.status("sneaky")


def test_bad_requests_get_json_errors(host: dict[str, Any], bundles_root: Path) -> None:
    assert raw(host, "PUT", "/services/x", b"{not json")[0] == 400
    status, body = raw(host, "PUT", "/services/x", json.dumps({"model_name": "x", "version": "1"}).encode())
    assert (status, body["field"]) == (400, "bundle_dir")
    status, body = raw(host, "PUT", "/services/Bad_Name", json.dumps(
        {"bundle_dir": str(bundles_root / "probe"), "model_name": "x", "version": "1"}).encode())
    assert (status, body["field"]) == (400, "name")
    status, body = raw(host, "PUT", "/services/x", json.dumps(
        {"bundle_dir": str(bundles_root / "probe"), "model_name": "x", "version": "1", "gpu": True}).encode())
    assert (status, body["field"]) == (400, "gpu")
    assert raw(host, "GET", "/services/nobody") == (404, raw(host, "GET", "/services/nobody")[1])
    assert raw(host, "GET", "/services/nobody")[1]["code"] == "unknown-service"
    assert raw(host, "GET", "/elsewhere")[0] == 404
    assert raw(host, "POST", "/services/nobody")[0] == 405
    spec = {"bundle_dir": str(bundles_root / "probe"), "model_name": "x", "version": "1"}
    assert raw(host, "PUT", "/services/twice", json.dumps(spec).encode())[0] == 200
    status, body = raw(host, "PUT", "/services/twice", json.dumps({**spec, "version": "2"}).encode())
    assert (status, body["code"]) == (409, "service-conflict")
    with pytest.raises(ServiceConflict):
        host["client"].deploy(ServiceSpec("twice", bundles_root / "probe", "x", "2"))
    raw(host, "DELETE", "/services/twice")


def test_host_stops_every_instance_when_terminated(bundles_root: Path, sandbox_user: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mcc-host-"))
    folder.chmod(0o755)
    socket_path = folder / "deploy.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "model_builder.deploy.host", "--socket", str(socket_path), "--state-dir",
         str(folder / "state"), "--bundles-root", str(bundles_root), "--user", sandbox_user], cwd=REPO,
        stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: socket_path.exists() or process.poll() is not None, what="the host's socket")
        client = HostClient(socket_path)
        client.deploy(ServiceSpec("ending", bundles_root / "probe", "ending", "1"))
        assert probe(client, "ending", "sleep", seconds=0).status == 200
        assert len(runtime_processes("ending")) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert runtime_processes("ending") == [] and not socket_path.exists()
    finally:
        if process.poll() is None:
            process.kill()
        subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_sizes_read_as_people_write_them() -> None:
    assert [parse_size(text) for text in ("4GiB", "256MiB", "512M", "1g", "1024")] == \
        [4 * 1024**3, 256 * 1024**2, 512 * 1024**2, 1024**3, 1024]
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("lots")
