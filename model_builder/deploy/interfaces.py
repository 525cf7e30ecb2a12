"""The deployer's contract: what a model service is, what a call returns, and the `Deployer` protocol."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import SpecError

GiB = 1024**3
MiB = 1024**2

NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # a DNS label, as Knative names its services
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Limits:
    """What one instance may use. Memory, CPU and processes follow Grand Challenge's algorithm containers."""

    memory_bytes: int = 4 * GiB  # RAM, with no swap on top
    cpus: float = 1.0
    pids: int = 128  # processes and threads together
    tmpfs_bytes: int = 1 * GiB  # /tmp (counted in the memory too); also the largest file the model may write
    request_seconds: float = 600.0  # wall clock for one inference
    start_seconds: float = 120.0  # wall clock from start to ready (loading the weights)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SpecError(f"limits.{item.name}", f"must be a positive number, not {value!r}")
        for name in ("memory_bytes", "pids", "tmpfs_bytes"):
            if not isinstance(getattr(self, name), int):
                raise SpecError(f"limits.{name}", "must be a whole number")
        if self.memory_bytes < 16 * MiB:
            raise SpecError("limits.memory_bytes", "must be at least 16 MiB for the Python runtime to start")
        if self.pids < 8:
            raise SpecError("limits.pids", "must be at least 8 for the runtime's own threads")

    @classmethod
    def from_json(cls, data: object) -> Limits:
        """Limits from a JSON object; keys left out keep their defaults."""
        if not isinstance(data, dict):
            raise SpecError("limits", "must be a JSON object")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"limits.{unknown[0]}", f"is not a limit; use one of {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class ServiceSpec:
    """A model version to serve: nothing runs until the first request (scaled to zero)."""

    name: str
    bundle_dir: Path
    model_name: str
    version: str
    limits: Limits = field(default_factory=Limits)
    max_instances: int = 2
    idle_seconds: float = 300.0  # an instance idle this long is stopped
    queue_seconds: float = 120.0  # how long a request waits for a free instance before 503

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise SpecError("name", f"{self.name!r} must be 1-63 lower-case letters, digits or '-' (a DNS label)")
        if not isinstance(self.model_name, str) or not VERSION.fullmatch(self.model_name):
            raise SpecError("model_name", f"{self.model_name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(self.version, str) or not VERSION.fullmatch(self.version):
            raise SpecError("version", f"{self.version!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if not isinstance(self.bundle_dir, Path):
            object.__setattr__(self, "bundle_dir", Path(self.bundle_dir))
        if not self.bundle_dir.is_absolute():
            raise SpecError("bundle_dir", f"{self.bundle_dir} must be an absolute path")
        if not isinstance(self.limits, Limits):
            raise SpecError("limits", "must be a Limits")
        if isinstance(self.max_instances, bool) or not isinstance(self.max_instances, int) or self.max_instances < 1:
            raise SpecError("max_instances", f"must be a whole number >= 1, not {self.max_instances!r}")
        for name in ("idle_seconds", "queue_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise SpecError(name, f"must be a positive number of seconds, not {value!r}")

    def to_json(self) -> dict[str, Any]:
        """The spec as the host's API takes it (`PUT /services/{name}`)."""
        data = asdict(self)
        data["bundle_dir"] = str(self.bundle_dir)
        return data

    @classmethod
    def from_json(cls, name: str, data: object) -> ServiceSpec:
        """A spec from the host API's JSON body; the name comes from the URL."""
        if not isinstance(data, dict):
            raise SpecError("$", "the spec must be a JSON object")
        known = {item.name for item in fields(cls)} - {"name"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(unknown[0], f"is not a field of a service spec; use {sorted(known)}")
        for required in ("bundle_dir", "model_name", "version"):
            if required not in data:
                raise SpecError(required, "is required")
        if not isinstance(data["bundle_dir"], str):
            raise SpecError("bundle_dir", "must be a string")
        values = dict(data, name=name, bundle_dir=Path(data["bundle_dir"]))
        values["limits"] = Limits.from_json(data.get("limits", {}))
        return cls(**values)


TIMEOUT_HEADER = "X-Request-Timeout"  # seconds a caller still waits: a request may shorten its service's limit


def request_timeout(headers: dict[str, str]) -> float | None:
    """The `X-Request-Timeout` of an infer request, in seconds (positive, finite), or None when absent or bad."""
    value = next((v for k, v in headers.items() if k.lower() == TIMEOUT_HEADER.lower()), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 < seconds < float("inf") else None


@dataclass(frozen=True)
class Reply:
    """The answer to one inference call: the runtime's own, or a V2-style error from the deployer."""

    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def error(cls, status: int, message: str, **extra: str) -> Reply:
        """A V2 error body (`{"error": message}`) with the given status."""
        body = json.dumps({"error": message}).encode()
        return cls(status, {"Content-Type": "application/json", **extra}, body)

    def reason(self) -> str:
        """What went wrong, from a V2 error body (the runtime's or the deployer's), or the status if there is none."""
        try:
            return str(json.loads(self.body)["error"])
        except (ValueError, KeyError, TypeError):
            return f"the model's service answered HTTP {self.status}"


class FailureKind(str, Enum):
    """Why an instance failed a call."""

    START = "start"  # exited or never became ready while starting
    TIMEOUT = "timeout"  # a request ran past Limits.request_seconds
    MEMORY = "memory"  # killed for running out of its memory limit
    PROCESSES = "processes"  # hit its process limit
    CRASH = "crash"  # died during a request (a signal or an exit)
    BUSY = "busy"  # no instance became free within queue_seconds


@dataclass(frozen=True)
class Failure:
    """The last thing that went wrong in a service: what, the status answered and a reason a user can act on."""

    kind: FailureKind
    status: int
    detail: str
    at: float  # time.time()

    def to_json(self) -> dict[str, Any]:
        """The failure for the host's API."""
        return {"kind": self.kind.value, "status": self.status, "detail": self.detail, "at": self.at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Failure:
        """A failure from the host's API."""
        return cls(FailureKind(data["kind"]), int(data["status"]), str(data["detail"]), float(data["at"]))


@dataclass(frozen=True)
class ServiceStatus:
    """A service's state: `idle` (zero instances), `starting` (none ready yet), `ready`, or `stopping` (its last
    instances are being stopped)."""

    name: str
    state: str
    instances: int
    busy: int
    queued: int  # requests waiting for a free instance
    mechanism: str  # how the limits are enforced: "cgroup2", "cgroup1" or "rlimit"
    last_failure: Failure | None = None

    def to_json(self) -> dict[str, Any]:
        """The status for the host's API."""
        data = asdict(self)
        data["last_failure"] = self.last_failure.to_json() if self.last_failure else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceStatus:
        """A status from the host's API."""
        failure = data.get("last_failure")
        return cls(data["name"], data["state"], int(data["instances"]), int(data["busy"]), int(data["queued"]),
                   data["mechanism"], Failure.from_json(failure) if failure else None)


@runtime_checkable
class Deployer(Protocol):
    """Serves model versions on demand; `local` (sandboxed processes) today, `knative` later, by configuration."""

    def deploy(self, spec: ServiceSpec) -> None:
        """Register a service (nothing starts until its first request); the same spec again is a no-op."""

    def infer(self, name: str, body: bytes, headers: dict[str, str]) -> Reply:
        """Forward one V2 inference request to an instance of `name`, starting one if needed; an
        `X-Request-Timeout: <seconds>` header shortens the service's own wall clock for this request."""

    def undeploy(self, name: str) -> None:
        """Stop every instance of `name` and forget it."""

    def status(self, name: str) -> ServiceStatus:
        """The state of one service."""

    def services(self) -> list[ServiceStatus]:
        """The state of every deployed service, by name."""
