"""The limits hold: a fork bomb, an endless loop and an endless allocation each end in a clear reason, the instance
is replaced, and the deployer goes on serving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from model_builder import Volume
from model_builder.deploy import TIMEOUT_HEADER, FailureKind, Limits, SandboxError, ServiceSpec
from model_builder.deploy.cgroups import CGROUP_ROOT
from model_builder.deploy.interfaces import MiB, request_timeout
from model_builder.deploy.local import LocalDeployer
from model_builder.deploy.sandbox import SandboxConfig
from model_builder.runtime.codec import encode_request
from tests.model_services.helpers import error_of, probe, runtime_processes


def deploy_probe(deployer: LocalDeployer, bundles_root: Path, name: str, **limits: object) -> str:
    deployer.deploy(ServiceSpec(name, bundles_root / "probe", name, "1", limits=Limits(**limits), max_instances=1))
    return name


def test_fork_bomb_is_stopped_by_the_process_limit(deployer: LocalDeployer, bundles_root: Path,
                                                   healthy: Callable[[], None]) -> None:
    name = deploy_probe(deployer, bundles_root, "forker")
    reply = probe(deployer, name, "fork")
    assert reply.status == 507
    assert error_of(reply) == "the model tried to run more than 128 processes and threads (its limit)"
    assert deployer.status(name).last_failure.kind is FailureKind.PROCESSES
    assert deployer.status(name).instances == 0 and runtime_processes(name) == []  # its children went with it
    healthy()
    assert probe(deployer, name, "sleep", seconds=0).status == 200  # replaced on the next request


def test_endless_loop_is_stopped_at_the_request_limit(deployer: LocalDeployer, bundles_root: Path,
                                                      healthy: Callable[[], None]) -> None:
    name = deploy_probe(deployer, bundles_root, "looper", request_seconds=2)
    assert probe(deployer, name, "sleep", seconds=0).status == 200
    [first] = runtime_processes(name)
    reply = probe(deployer, name, "loop")
    assert reply.status == 504
    assert error_of(reply) == "the model took longer than 2 s (its limit); it was stopped"
    assert runtime_processes(name) == []
    healthy()
    assert probe(deployer, name, "sleep", seconds=0).status == 200
    [second] = runtime_processes(name)
    assert second != first


def test_a_request_may_shorten_its_services_wall_clock(deployer: LocalDeployer, bundles_root: Path,
                                                      healthy: Callable[[], None]) -> None:
    name = deploy_probe(deployer, bundles_root, "hurried", request_seconds=600)
    body, headers = encode_request(Volume(np.zeros((1, 4, 4), dtype=np.int16), modality="CT",
                                          attributes={"attempt": "sleep", "args": {"seconds": 300}}))
    reply = deployer.infer(name, body, {**headers, TIMEOUT_HEADER: "1.5"})  # what the job has left
    assert reply.status == 504
    assert error_of(reply) == "the model took longer than 1.5 s (its limit); it was stopped"
    assert runtime_processes(name) == []
    healthy()
    for bad in ("soon", "-1", "inf", "nan"):  # a bad header is ignored: the service's own limit holds
        assert request_timeout({TIMEOUT_HEADER: bad}) is None
    assert probe(deployer, name, "sleep", seconds=0).status == 200


def test_endless_allocation_is_stopped_by_the_memory_limit(deployer: LocalDeployer, bundles_root: Path,
                                                           healthy: Callable[[], None]) -> None:
    name = deploy_probe(deployer, bundles_root, "hog", memory_bytes=256 * MiB, tmpfs_bytes=16 * MiB)
    reply = probe(deployer, name, "allocate")
    assert reply.status == 507
    assert error_of(reply) == "the model ran out of memory (limit 256 MiB)"
    status = deployer.status(name)
    assert status.last_failure.kind is FailureKind.MEMORY and status.instances == 0
    healthy()
    assert probe(deployer, name, "sleep", seconds=0).status == 200


def test_without_cgroups_rlimits_hold_memory(sandbox_user: str, bundles_root: Path) -> None:
    with LocalDeployer(config=SandboxConfig(user=sandbox_user, mechanism="rlimit"), stop_grace=5) as fallback:
        assert fallback.tree is None and fallback.mechanism.value == "rlimit"
        name = deploy_probe(fallback, bundles_root, "hog", memory_bytes=512 * MiB)
        assert fallback.status(name).mechanism == "rlimit"
        reply = probe(fallback, name, "allocate")
        assert reply.status == 500 and "MemoryError" in error_of(reply)  # RLIMIT_AS: the allocation fails
        assert probe(fallback, name, "sleep", seconds=0).status == 200


@pytest.mark.parametrize("mechanism", ["cgroup1", "cgroup2"])
def test_forced_mechanism_is_used_or_refused(sandbox_user: str, mechanism: str) -> None:
    available = (CGROUP_ROOT / "cgroup.controllers").exists() if mechanism == "cgroup2" else \
        (CGROUP_ROOT / "memory" / "cgroup.procs").exists()
    if available:
        with LocalDeployer(config=SandboxConfig(user=sandbox_user, mechanism=mechanism)) as forced:
            assert forced.mechanism.value == mechanism
    else:
        with pytest.raises(SandboxError, match=mechanism):
            LocalDeployer(config=SandboxConfig(user=sandbox_user, mechanism=mechanism))
