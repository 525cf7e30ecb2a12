"""`LocalDeployer`: model services as sandboxed processes on this machine, started on demand, stopped when idle."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupTree, Mechanism, detect
from .errors import SandboxError, ServiceConflict, SpecError, UnknownService
from .instance import Instance, State
from .interfaces import TIMEOUT_HEADER, Failure, FailureKind, Reply, ServiceSpec, ServiceStatus, request_timeout
from .sandbox import Account, SandboxConfig, check_host, readable_by

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


@dataclass(eq=False)
class _Service:
    spec: ServiceSpec
    instances: list[Instance] = field(default_factory=list)
    queue: deque[object] = field(default_factory=deque)  # tickets of waiting requests, first come first served
    last_failure: Failure | None = None
    started: int = 0  # instances started so far, to name the next one
    removed: bool = False


class LocalDeployer:
    """A `Deployer` running each instance as a bubblewrap sandbox in its own cgroup, as `config.user`.

    Requests wait in a FIFO queue for a free instance; a new one starts while fewer than `max_instances` run.
    A reaper stops instances idle for `idle_seconds` (scale to zero). Must run as root (see README.md).
    """

    def __init__(self, state_dir: Path | None = None, *, config: SandboxConfig | None = None,
                 stop_grace: float = STOP_GRACE_SECONDS) -> None:
        self.config = config or SandboxConfig()
        self.account = Account.lookup(self.config.user)
        check_host(self.config, self.account)
        prefer = Mechanism(self.config.mechanism) if self.config.mechanism else None
        self.tree: CgroupTree | None = detect(prefer=prefer)
        self.mechanism = self.tree.mechanism if self.tree else Mechanism.RLIMIT
        self._own_state = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="mcc-models-")) if state_dir is None else Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o711)  # the sandbox user passes through to its instance's run/ directory
        if not readable_by(self.account, self.state_dir, list_it=False):
            raise SandboxError(f"the sandbox user {self.account.name} cannot reach the state directory "
                               f"{self.state_dir}", "choose one whose parents others may pass through (o+x)")
        self.stop_grace = stop_grace
        self._services: dict[str, _Service] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-launcher")
        self._reaper = threading.Thread(target=self._reap, name="model-reaper", daemon=True)
        self._reaper.start()
        logger.info("local deployer ready: limits enforced by %s, instances as %s", self.mechanism.value,
                    self.account.name)

    # The Deployer protocol

    def deploy(self, spec: ServiceSpec) -> None:
        """Register `spec` (scaled to zero); the same spec again is a no-op, another under the same name a conflict."""
        if not spec.bundle_dir.is_dir():
            raise SpecError("bundle_dir", f"{spec.bundle_dir} is not a directory: unpack the bundle there first")
        if not any((spec.bundle_dir / marker).is_file() for marker in ("manifest.json", "configs/metadata.json")):
            raise SpecError("bundle_dir", f"{spec.bundle_dir} has no manifest.json (nor, for a MONAI Bundle,"
                                          " configs/metadata.json) at its root")
        if not readable_by(self.account, spec.bundle_dir):
            raise SpecError("bundle_dir", f"the sandbox user {self.account.name} cannot read {spec.bundle_dir}: "
                                          "make it and its parents readable (or passable) by that user")
        with self._changed:
            existing = self._services.get(spec.name)
            if existing is not None:
                if existing.spec != spec:
                    raise ServiceConflict(spec.name)
                return
            self._services[spec.name] = _Service(spec)
        logger.info("service %s deployed (model %s version %s, scaled to zero)", spec.name, spec.model_name,
                    spec.version)

    def infer(self, name: str, body: bytes, headers: dict[str, str]) -> Reply:
        """Forward a V2 infer request to a free instance of `name` (starting one if allowed, else queueing)."""
        service = self._service(name)
        instance = self._acquire(service)
        if isinstance(instance, Reply):
            return instance
        try:
            if instance.state is State.STARTING:
                failure = instance.start()
                if failure is not None:
                    self._release(service, instance, failure)
                    return Reply.error(failure.status, failure.detail)
            timeout = request_timeout(headers)
            forwarded = {k: v for k, v in headers.items() if k.lower() != TIMEOUT_HEADER.lower()}
            reply, failure = instance.call(body, forwarded, timeout=timeout)
        except BaseException:
            logger.exception("the deployer failed on a request to %s", name)
            self._release(service, instance, Failure(FailureKind.CRASH, 500, "internal error of the deployer",
                                                     time.time()))
            raise
        self._release(service, instance, failure)
        if service.removed and failure is not None:
            return Reply.error(503, f"the model service {name!r} was undeployed during the request")
        return reply

    def undeploy(self, name: str) -> None:
        """Stop every instance of `name` (SIGTERM, SIGKILL after the grace) and forget the service."""
        with self._changed:
            service = self._service(name)
            service.removed = True
            del self._services[name]
            instances = list(service.instances)
            self._changed.notify_all()
        self._stop_all(instances)
        logger.info("service %s undeployed", name)

    def status(self, name: str) -> ServiceStatus:
        """The state of one service: idle (zero instances), starting, or ready."""
        with self._changed:
            return self._status(self._service(name))

    def services(self) -> list[ServiceStatus]:
        """The state of every service, by name."""
        with self._changed:
            return [self._status(self._services[name]) for name in sorted(self._services)]

    # Lifecycle

    def close(self) -> None:
        """Stop every instance of every service and the reaper."""
        with self._changed:
            self._closed = True
            instances = [i for service in self._services.values() for i in service.instances]
            for service in self._services.values():
                service.removed = True
            self._services.clear()
            self._changed.notify_all()
        self._stop_all(instances)
        self._reaper.join(timeout=self.stop_grace + 5)
        self._launcher.shutdown()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalDeployer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Inside

    def _service(self, name: str) -> _Service:
        service = self._services.get(name)
        if service is None:
            raise UnknownService(name)
        return service

    def _status(self, service: _Service) -> ServiceStatus:
        states = [i.state for i in service.instances]
        if State.IDLE in states or State.BUSY in states:
            state = "ready"
        else:
            state = "starting" if State.STARTING in states else "stopping" if states else "idle"
        return ServiceStatus(service.spec.name, state, len(states), states.count(State.BUSY), len(service.queue),
                             self.mechanism.value, service.last_failure)

    def _acquire(self, service: _Service) -> Instance | Reply:
        """An instance reserved for this request (idle, or new and still to start), or a 503 Reply."""
        spec = service.spec
        ticket = object()
        deadline = time.monotonic() + spec.queue_seconds
        with self._changed:
            service.queue.append(ticket)
            try:
                while True:
                    if service.removed:
                        return Reply.error(503, f"the model service {spec.name!r} was undeployed")
                    if service.queue[0] is ticket:
                        idle = [i for i in service.instances if i.state is State.IDLE]
                        if idle:
                            instance = max(idle, key=lambda i: i.last_used)  # the warmest; the others may idle out
                            instance.state = State.BUSY
                            return instance
                        if len(service.instances) < spec.max_instances:
                            service.started += 1
                            slot = min(set(range(spec.max_instances)) - {i.slot for i in service.instances})
                            instance = Instance(spec, config=self.config, account=self.account, tree=self.tree,
                                                state_dir=self.state_dir, number=service.started, slot=slot,
                                                launcher=self._launcher)
                            service.instances.append(instance)
                            return instance
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        failure = Failure(FailureKind.BUSY, 503, (
                            f"all {spec.max_instances} instance(s) of {spec.name!r} stayed busy for "
                            f"{spec.queue_seconds:g} s; try again later"), time.time())
                        service.last_failure = failure
                        return Reply.error(503, failure.detail, **{"Retry-After": "5"})
                    self._changed.wait(remaining)
            finally:
                service.queue.remove(ticket)
                self._changed.notify_all()

    def _release(self, service: _Service, instance: Instance, failure: Failure | None) -> None:
        """Hand the instance back after a request: idle again, or stopped (and only then forgotten)."""
        with self._changed:
            if failure is not None:
                service.last_failure = failure
            keep = failure is None and not service.removed and instance.state is State.BUSY
            if keep:
                instance.state = State.IDLE
                instance.last_used = time.monotonic()
            elif instance.state is not State.STOPPED:
                instance.state = State.STOPPING
            self._changed.notify_all()
        if not keep:
            self._retire(service, [instance])

    def _retire(self, service: _Service, instances: list[Instance]) -> None:
        """Stop `instances`, then drop them from the service: until then they count against max_instances."""
        self._stop_all(instances)
        with self._changed:
            for instance in instances:
                if instance in service.instances:
                    service.instances.remove(instance)
            self._changed.notify_all()

    def _stop_all(self, instances: list[Instance]) -> None:
        threads = [threading.Thread(target=i.stop, args=(self.stop_grace,), daemon=True) for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _reap(self) -> None:
        """Stop instances idle longer than their service's idle_seconds; sleep until the next one could be."""
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                expired: list[tuple[_Service, Instance]] = []
                wake = None
                for service in self._services.values():
                    for instance in service.instances:
                        if instance.state is not State.IDLE:
                            continue
                        due = instance.last_used + service.spec.idle_seconds
                        if due <= now:
                            instance.state = State.STOPPING
                            expired.append((service, instance))
                        else:
                            wake = due if wake is None else min(wake, due)
                if expired:
                    self._changed.release()
                    try:
                        for service, instance in expired:
                            logger.info("instance %s idle; stopping it (scale to zero)", instance.name)
                            self._retire(service, [instance])
                    finally:
                        self._changed.acquire()
                    continue
                self._changed.wait(None if wake is None else max(0.0, wake - time.monotonic()))
