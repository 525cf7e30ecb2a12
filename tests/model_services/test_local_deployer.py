"""`LocalDeployer`: scaled to zero until called, N instances under load, a fair queue, clear failures, clean stops."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from model_builder import Volume
from model_builder.deploy import (
    Deployer,
    FailureKind,
    SandboxError,
    ServiceConflict,
    ServiceSpec,
    SpecError,
    UnknownService,
)
from model_builder.deploy.local import LocalDeployer
from model_builder.deploy.sandbox import SandboxConfig
from tests.model_services.helpers import assert_serves_body_mask, error_of, probe, runtime_processes, wait_for


def instance_cgroups(deployer: LocalDeployer, service: str) -> list[Path]:
    assert deployer.tree is not None
    return [child for parent in deployer.tree.parents() for child in parent.iterdir()
            if child.is_dir() and f"-{service}-" in child.name]


def test_local_deployer_is_a_deployer(deployer: LocalDeployer) -> None:
    assert isinstance(deployer, Deployer)


def test_deploy_starts_nothing_until_the_first_request(deployer: LocalDeployer, bundles_root: Path, ct: Volume,
                                                       body_mask_reference: object) -> None:
    deployer.deploy(ServiceSpec("lazy", bundles_root / "classical", "lazy-mask", "1"))
    status = deployer.status("lazy")
    assert (status.state, status.instances, status.last_failure) == ("idle", 0, None)
    assert runtime_processes("lazy-mask") == []
    assert_serves_body_mask(deployer, "lazy", ct, body_mask_reference)
    assert deployer.status("lazy").state == "ready", deployer.status("lazy")
    assert len(runtime_processes("lazy-mask")) == 1
    assert "lazy" in [s.name for s in deployer.services()]


def test_idle_instances_scale_to_zero_and_start_again(deployer: LocalDeployer, bundles_root: Path, ct: Volume,
                                                      body_mask_reference: object) -> None:
    deployer.deploy(ServiceSpec("napper", bundles_root / "classical", "napper", "1", idle_seconds=0.5))
    assert_serves_body_mask(deployer, "napper", ct, body_mask_reference)
    [first] = runtime_processes("napper")
    assert instance_cgroups(deployer, "napper")
    wait_for(lambda: deployer.status("napper").state == "idle", what="scale to zero")
    assert runtime_processes("napper") == [] and not os.path.exists(f"/proc/{first}")
    assert instance_cgroups(deployer, "napper") == []  # its cgroups went with it
    assert_serves_body_mask(deployer, "napper", ct, body_mask_reference)
    assert runtime_processes("napper") not in ([], [first])


def test_concurrent_requests_use_at_most_max_instances(deployer: LocalDeployer, bundles_root: Path) -> None:
    deployer.deploy(ServiceSpec("crowd", bundles_root / "probe", "crowd", "1", max_instances=2))
    seen: set[int] = set()
    most = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            running = runtime_processes("crowd")
            seen.update(running)
            most = max(most, len(running))
            done.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: probe(deployer, "crowd", "sleep", seconds=1.0), range(4)))
    done.set()
    watcher.join()
    assert [r.status for r in replies] == [200] * 4
    assert most == 2 and len(seen) == 2  # two processes served all four
    status = deployer.status("crowd")
    assert (status.instances, status.busy, status.queued) == (2, 0, 0)


def test_waiting_requests_are_served_first_come_first_served(deployer: LocalDeployer, bundles_root: Path) -> None:
    deployer.deploy(ServiceSpec("queue", bundles_root / "probe", "queue", "1", max_instances=1))
    finished: list[str] = []

    def request(label: str, seconds: float) -> None:
        assert probe(deployer, "queue", "sleep", seconds=seconds).status == 200
        finished.append(label)

    threads = []
    for position, (label, seconds) in enumerate([("first", 2.0), ("second", 0), ("third", 0)]):
        threads.append(threading.Thread(target=request, args=(label, seconds)))
        threads[-1].start()
        if position == 0:
            wait_for(lambda: deployer.status("queue").busy == 1, what="the first request running")
        else:
            wait_for(lambda n=position: deployer.status("queue").queued == n, what="the request queued")
    for thread in threads:
        thread.join()
    assert finished == ["first", "second", "third"]


def test_a_request_waits_no_longer_than_queue_seconds(deployer: LocalDeployer, bundles_root: Path) -> None:
    deployer.deploy(ServiceSpec("narrow", bundles_root / "probe", "narrow", "1", max_instances=1, queue_seconds=0.3))
    blocker = threading.Thread(target=probe, args=(deployer, "narrow", "sleep"), kwargs={"seconds": 3})
    blocker.start()
    wait_for(lambda: deployer.status("narrow").busy == 1, what="the first request running")
    started = time.monotonic()
    reply = probe(deployer, "narrow", "sleep", seconds=0)
    waited = time.monotonic() - started
    answered_while_busy = blocker.is_alive()
    blocker.join()
    assert reply.status == 503 and reply.headers["Retry-After"] == "5"
    assert error_of(reply) == "all 1 instance(s) of 'narrow' stayed busy for 0.3 s; try again later"
    assert waited >= 0.3 and answered_while_busy  # it gave up at its deadline, not when the instance came free
    assert deployer.status("narrow").last_failure.kind is FailureKind.BUSY


def test_a_model_failing_to_load_is_reported_with_its_scrubbed_stderr(deployer: LocalDeployer,
                                                                     bundles_root: Path,
                                                                     healthy: Callable[[], None]) -> None:
    deployer.deploy(ServiceSpec("broken", bundles_root / "broken", "broken", "1"))
    reply = probe(deployer, "broken", "sleep", seconds=0)
    assert reply.status == 502
    message = error_of(reply)
    assert message.startswith("the model failed to start (exit code 3); its last output:\n")
    assert "cannot open …/weights.key for the weights" in message  # the host path is cut to its name
    assert "models/model.pt is missing from the bundle" in message
    assert "/work/" not in message and "/root/" not in message and "/var/" not in message
    status = deployer.status("broken")
    assert (status.state, status.last_failure.kind, status.last_failure.status) == ("idle", FailureKind.START, 502)
    assert runtime_processes("broken") == [] and instance_cgroups(deployer, "broken") == []
    healthy()


def test_undeploy_stops_every_instance(deployer: LocalDeployer, bundles_root: Path) -> None:
    deployer.deploy(ServiceSpec("gone", bundles_root / "probe", "gone", "1", max_instances=2))
    with ThreadPoolExecutor(2) as pool:
        assert [r.status for r in pool.map(lambda _: probe(deployer, "gone", "sleep", seconds=0.3), range(2))] == \
            [200, 200]
    assert len(runtime_processes("gone")) == 2
    deployer.undeploy("gone")
    assert runtime_processes("gone") == [] and instance_cgroups(deployer, "gone") == []
    with pytest.raises(UnknownService, match="'gone'"):
        deployer.status("gone")
    with pytest.raises(UnknownService):
        probe(deployer, "gone", "sleep", seconds=0)
    with pytest.raises(UnknownService):
        deployer.undeploy("gone")


def test_undeploy_during_a_request_answers_503(deployer: LocalDeployer, bundles_root: Path) -> None:
    deployer.deploy(ServiceSpec("cut", bundles_root / "probe", "cut", "1"))
    replies = []
    caller = threading.Thread(target=lambda: replies.append(probe(deployer, "cut", "sleep", seconds=30)))
    caller.start()
    wait_for(lambda: deployer.status("cut").busy == 1, what="the request running")
    deployer.undeploy("cut")
    caller.join(timeout=20)
    assert replies[0].status == 503 and error_of(replies[0]) == "the model service 'cut' was undeployed during the request"
    assert runtime_processes("cut") == []


def test_deploy_refuses_a_missing_or_unreadable_bundle(deployer: LocalDeployer, bundles_root: Path,
                                                       tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is not a directory") as missing:
        deployer.deploy(ServiceSpec("ghost", bundles_root / "no-such-bundle", "ghost", "1"))
    assert missing.value.field == "bundle_dir"
    with pytest.raises(SpecError, match="must be an absolute path"):
        ServiceSpec("ghost", Path("relative/bundle"), "ghost", "1")
    closed = tmp_path / "closed"
    (closed / "bundle").mkdir(parents=True)
    (closed / "bundle" / "manifest.json").write_text("{}")
    closed.chmod(0o700)
    with pytest.raises(SpecError, match="mcc-model cannot read"):
        deployer.deploy(ServiceSpec("ghost", closed / "bundle", "ghost", "1"))
    with pytest.raises(UnknownService):
        deployer.status("ghost")


def test_a_name_holds_one_spec(deployer: LocalDeployer, bundles_root: Path) -> None:
    spec = ServiceSpec("single", bundles_root / "classical", "single", "1")
    deployer.deploy(spec)
    deployer.deploy(spec)  # the same again: nothing changes
    with pytest.raises(ServiceConflict, match="undeploy it first"):
        deployer.deploy(ServiceSpec("single", bundles_root / "classical", "single", "2"))


@pytest.mark.parametrize(("field", "values"), [
    ("name", {"name": "Not_A_Label"}), ("model_name", {"model_name": "a/b"}), ("version", {"version": ""}),
    ("max_instances", {"max_instances": 0}), ("idle_seconds", {"idle_seconds": -1}),
])
def test_spec_names_the_field_at_fault(bundles_root: Path, field: str, values: dict[str, object]) -> None:
    arguments = {"name": "fine", "bundle_dir": bundles_root / "classical", "model_name": "fine", "version": "1"}
    with pytest.raises(SpecError) as refused:
        ServiceSpec(**{**arguments, **values})
    assert refused.value.field == field


def test_a_state_dir_the_sandbox_user_cannot_reach_is_refused(sandbox_user: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    with pytest.raises(SandboxError, match="cannot reach the state directory") as refused:
        LocalDeployer(tmp_path / "state", config=SandboxConfig(user=sandbox_user))
    assert "o+x" in refused.value.fix
