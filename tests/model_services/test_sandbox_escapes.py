"""The sandbox contains a model that tries to get out: files, system calls, network, writes, /tmp.

Each test deploys the probe bundle on the module's deployer, makes it try, reads its report, then checks that the
same deployer still serves the classical template correctly.
"""

from __future__ import annotations

import pwd
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from model_builder.deploy import Limits, ServiceSpec
from model_builder.deploy.interfaces import MiB
from model_builder.deploy.local import LocalDeployer
from tests.model_services.helpers import probe, report

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prober(deployer: LocalDeployer, bundles_root: Path) -> str:
    deployer.deploy(ServiceSpec("probe", bundles_root / "probe", "probe", "1",
                                limits=Limits(tmpfs_bytes=32 * MiB), max_instances=1))
    return "probe"


@pytest.fixture
def host_secret() -> Iterator[Path]:
    """A world-readable file outside every bind: only the mount namespace keeps the model from it."""
    with tempfile.TemporaryDirectory(prefix="mcc-secret-") as folder:
        Path(folder).chmod(0o755)
        secret = Path(folder) / "platform.key"
        secret.write_text("not for models")
        secret.chmod(0o644)
        yield secret


def test_model_cannot_see_platform_files_keys_or_home(deployer: LocalDeployer, prober: str, host_secret: Path,
                                                      healthy: Callable[[], None]) -> None:
    paths = [str(host_secret), "/etc/shadow", "/etc/hostname", str(REPO / "README.md"), str(REPO / "var"),
             str(REPO / "functions" / "__init__.py"), "/root/.bashrc", "/home", "/sys/fs/cgroup/cgroup.procs"]
    assert host_secret.exists() and Path("/etc/shadow").exists() and (REPO / "README.md").exists()
    assert report(probe(deployer, prober, "read", paths=paths)) == ["ENOENT"] * len(paths)
    runtime = [*deployer.config.resolved_runtime_dirs(), deployer.config.package_dir]
    listed = report(probe(deployer, prober, "listdir", paths=["/", str(REPO), "/etc", "/run"]))
    assert set(listed[0]) == {"bin", "bundle", "dev", "etc", "lib", "lib64", "proc", "run", "sbin", "tmp", "usr",
                              *(path.parts[1] for path in runtime)}
    # the repository's root shows the package alone (and the venv when it lives there): never its keys or code
    assert set(listed[1]) == {path.relative_to(REPO).parts[0] for path in runtime if path.is_relative_to(REPO)}
    assert listed[2] == ["group", "ld.so.cache", "passwd"]
    assert listed[3] == ["model"]
    if Path(sys.base_prefix).is_relative_to("/root"):  # the interpreter alone, not the rest of /root
        assert report(probe(deployer, prober, "listdir", paths=["/root"])) == [[Path(sys.base_prefix).parts[2]]]
    healthy()


def test_model_runs_unprivileged_with_nothing_inherited(deployer: LocalDeployer, prober: str,
                                                        sandbox_user: str, healthy: Callable[[], None]) -> None:
    seen = report(probe(deployer, prober, "identity"))
    account = pwd.getpwnam(sandbox_user)
    assert (seen["uid"], seen["gid"], seen["groups"]) == (account.pw_uid, account.pw_gid, [])
    assert seen["status"] == {"CapEff": "0" * 16, "CapPrm": "0" * 16, "CapBnd": "0" * 16, "NoNewPrivs": "1",
                              "Seccomp": "2"}
    assert seen["hostname"] == "model"
    assert seen["interfaces"] == ["lo"]  # its own network namespace: no way to the host's network
    assert len(seen["processes"]) <= 3  # its own pid namespace: bwrap's init, the runtime, nothing of the host
    assert len(seen["fds"]) <= 6, seen["fds"]  # stdio, the socket and its listener: no descriptor of the host's
    assert {"PYTHONPATH", "HOME"} <= set(seen["environment"]) and "SSH_AUTH_SOCK" not in seen["environment"]
    assert not [var for var in seen["environment"] if "KEY" in var or "SECRET" in var or "TOKEN" in var]
    assert {"/", "/proc", "/dev", "/tmp", "/dev/shm", "/usr", "/run/model"} <= set(seen["mounts"])
    assert not [mount for mount in seen["mounts"] if mount.startswith(("/sys", "/home", "/var", "/etc/shadow"))]
    healthy()


def test_seccomp_refuses_dangerous_system_calls(deployer: LocalDeployer, prober: str,
                                                healthy: Callable[[], None]) -> None:
    if not sys.platform.startswith("linux") or Path("/proc/sys/kernel/arch").exists() and \
            Path("/proc/sys/kernel/arch").read_text().strip() != "x86_64":
        pytest.fail("the probe's system call numbers are x86_64's")
    found = report(probe(deployer, prober, "syscalls"))
    assert found.pop("personality_query") == "ok"  # personality(0) stays allowed
    assert found == dict.fromkeys(found, "EPERM")
    healthy()


def test_model_cannot_open_network_sockets(deployer: LocalDeployer, prober: str,
                                           healthy: Callable[[], None]) -> None:
    connections: list[object] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    connections.append(server.accept())
                except TimeoutError:
                    continue

        watcher = threading.Thread(target=accept, daemon=True)
        watcher.start()
        found = report(probe(deployer, prober, "network", port=port))
        stop.set()
        watcher.join()
    assert found == {"inet": "EPERM", "inet6": "EPERM", "netlink": "EPERM", "packet": "EPERM", "unix": "ok",
                     "connect": "EPERM"}
    assert connections == []
    healthy()


def test_model_can_write_only_to_its_tmpfs(deployer: LocalDeployer, prober: str,
                                           healthy: Callable[[], None]) -> None:
    paths = ["/bundle/weights.pt", "/evil", "/usr/lib/evil.so", "/etc/passwd", f"{sys.prefix}/evil.pth",
             "/run/model/evil", "/proc/sys/kernel/hostname", "/tmp/scratch"]
    found = report(probe(deployer, prober, "write", paths=paths))
    assert dict(zip(paths, found, strict=True)) == {
        "/bundle/weights.pt": "EROFS", "/evil": "EROFS", "/usr/lib/evil.so": "EROFS", "/etc/passwd": "EROFS",
        f"{sys.prefix}/evil.pth": "EROFS",
        "/run/model/evil": "EACCES",  # the host took the socket's directory back once the runtime was ready
        "/proc/sys/kernel/hostname": "EACCES",  # the kernel's own settings belong to the host's root
        "/tmp/scratch": "ok"}
    healthy()


def test_tmpfs_stops_at_its_size(deployer: LocalDeployer, prober: str, healthy: Callable[[], None]) -> None:
    found = report(probe(deployer, prober, "fill_tmp"))
    assert found["error"] in ("ENOSPC", "EFBIG")
    assert 16 * MiB <= found["written"] <= 32 * MiB
    healthy()
