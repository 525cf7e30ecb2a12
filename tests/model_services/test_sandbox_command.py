"""The sandbox's parts on their own: the bwrap command, the seccomp filter, cgroup files, reasons shown to users."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from model_builder.deploy import Failure, FailureKind, Limits, ServiceSpec, ServiceStatus, SpecError
from model_builder.deploy.cgroups import CgroupV2, Counters, own_cgroups
from model_builder.deploy.diagnostics import exit_reason, scrub, size
from model_builder.deploy.errors import DeployError, SandboxError, UnknownService, error_from_json
from model_builder.deploy.interfaces import GiB, MiB
from model_builder.deploy.sandbox import Account, SandboxConfig, bwrap_command
from model_builder.deploy.seccomp import DENIED, build_filter

REPO = Path(__file__).resolve().parents[2]


def pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, word in enumerate(argv) if word == option]


@pytest.fixture
def argv(sandbox_user: str, bundles_root: Path, tmp_path: Path) -> list[str]:
    spec = ServiceSpec("cmd", bundles_root / "classical", "cmd", "7", limits=Limits(tmpfs_bytes=64 * MiB))
    return bwrap_command(SandboxConfig(user=sandbox_user), Account.lookup(sandbox_user), spec,
                         run_dir=tmp_path / "run", etc_dir=tmp_path / "etc", seccomp_fd=9)


def test_command_unshares_everything_and_drops_all_capabilities(argv: list[str]) -> None:
    assert argv[0] == "bwrap"
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in argv
    assert "--share-net" not in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL" and argv[argv.index("--seccomp") + 1] == "9"
    assert argv[-10:] == [sys.executable, "-m", "model_builder.runtime", "--bundle", "/bundle", "--unix",
                          "/run/model/model.sock", "--name", "cmd", "--version", "7"][-10:]


def test_command_binds_only_the_runtime_read_only_never_the_repository(argv: list[str], bundles_root: Path,
                                                                       tmp_path: Path) -> None:
    read_only = dict(pairs(argv, "--ro-bind"))
    writable = pairs(argv, "--bind")
    assert writable == [(str(tmp_path / "run"), "/run/model")]  # the socket's directory, nothing else
    assert read_only[str(bundles_root / "classical")] == "/bundle"
    assert str(REPO) not in read_only and "/" not in read_only and "/root" not in read_only
    assert str(REPO / "model_builder") in read_only and sys.base_prefix in read_only
    for source in read_only:
        assert not source.startswith(("/home", "/etc/shadow", "/var", str(REPO / "var"), str(REPO / "functions")))
        if Path(source).is_relative_to(REPO):
            assert Path(source).relative_to(REPO).parts[0] in (".venv", "model_builder")
    assert argv[argv.index("--remount-ro") + 1] == "/"


def test_command_caps_tmp_and_mounts_it_before_the_binds(argv: list[str]) -> None:
    tmp = argv.index("/tmp") - 1
    assert argv[tmp] == "--tmpfs" and argv[tmp - 2:tmp] == ["--size", str(64 * MiB)]
    assert tmp < argv.index("--ro-bind")  # a runtime under /tmp stays visible


def test_seccomp_filter_refuses_the_dangerous_calls(tmp_path: Path) -> None:
    with (tmp_path / "filter.pfc").open("w") as handle:
        build_filter().export_pfc(handle)  # type: ignore[attr-defined]
    program = (tmp_path / "filter.pfc").read_text()
    for name in ("ptrace", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "kexec_load",
                 "init_module", "bpf", "perf_event_open", "keyctl", "userfaultfd", "process_vm_readv", "reboot",
                 "swapon", "open_by_handle_at", "name_to_handle_at", "socket", "personality", "clone"):
        assert f"# filter for syscall \"{name}\"" in program, name
    assert "ptrace" in DENIED and "clone3" not in DENIED


def test_cgroup_v2_files_are_written_for_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cgroup v2 is not mounted with controllers on this machine: its files are checked on a plain directory."""
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    (tmp_path / "cgroup.procs").write_text("")
    original_mkdir = Path.mkdir

    def mkdir_with_files(self: Path, *args: object, **kwargs: object) -> None:
        original_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]
        for name in ("cgroup.subtree_control", "memory.swap.max", "memory.events", "pids.events"):
            (self / name).write_text("")

    monkeypatch.setattr(Path, "mkdir", mkdir_with_files)  # the kernel makes these files in a new cgroup
    tree = CgroupV2(tmp_path, own={"": "/"})
    cgroup = tree.create(f"{os.getpid()}-svc-1", Limits(memory_bytes=GiB, cpus=1.5, pids=64))
    monkeypatch.undo()
    folder = tmp_path / "mcc-models" / f"{os.getpid()}-svc-1"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (folder / "memory.max").read_text() == str(GiB) and (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "64" and (folder / "cpu.max").read_text() == "150000 100000"
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (folder / "pids.events").write_text("max 5\n")
    assert cgroup.counters() == Counters(oom_kills=1, pid_limit_hits=5)


def test_own_cgroups_are_read_per_controller() -> None:
    text = "12:pids:/a\n4:memory:/process_api/x\n3:cpu,cpuacct:/\n0::/user.slice\n"
    assert own_cgroups(text) == {"pids": "/a", "memory": "/process_api/x", "cpu": "/", "cpuacct": "/",
                                 "": "/user.slice"}


def test_reasons_keep_the_bundle_and_hide_the_host() -> None:
    text = 'File "/root/.pyenv/versions/3.11.7/lib/python3.11/runpy.py", line 1 in /bundle/app.py (/work/main/var/k)'
    assert scrub(text) == 'File "…/runpy.py", line 1 in /bundle/app.py (…/k)'
    assert [exit_reason(code) for code in (3, 137, -11, None)] == ["exit code 3", "signal SIGKILL", "signal SIGSEGV",
                                                                  "still running"]
    assert [size(v) for v in (4 * GiB, 256 * MiB, GiB + GiB // 2)] == ["4 GiB", "256 MiB", "1.5 GiB"]


def test_errors_and_statuses_cross_the_wire_intact() -> None:
    for error in (SpecError("bundle_dir", "is missing"), UnknownService("x"), SandboxError("no bwrap", "install it")):
        rebuilt = error_from_json(error.to_json())
        assert type(rebuilt) is type(error) and str(rebuilt) == str(error) and rebuilt.status == error.status
    assert error_from_json({"error": "?", "code": "nonsense"}) is None
    assert isinstance(UnknownService("x"), DeployError)
    status = ServiceStatus("x", "ready", 1, 0, 0, "cgroup1", Failure(FailureKind.TIMEOUT, 504, "slow", 1.0))
    assert ServiceStatus.from_json(status.to_json()) == status


@pytest.mark.parametrize(("limits", "field"), [
    ({"memory_bytes": 1024}, "limits.memory_bytes"), ({"cpus": 0}, "limits.cpus"), ({"pids": 2}, "limits.pids"),
    ({"request_seconds": -1}, "limits.request_seconds"), ({"tmpfs_bytes": 1.5}, "limits.tmpfs_bytes"),
])
def test_limits_name_the_value_at_fault(limits: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as refused:
        Limits.from_json(limits)
    assert refused.value.field == field


def test_default_limits_are_grand_challenges() -> None:
    limits = Limits()
    assert (limits.memory_bytes, limits.cpus, limits.pids) == (4 * GiB, 1.0, 128)
