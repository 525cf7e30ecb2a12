"""Serving model versions: the `Deployer` contract, the local sandboxed deployer, its host process and client.

`LocalDeployer` runs each instance as a bubblewrap sandbox (see README.md); `HostClient` speaks to the root-owned
`python -m model_builder.deploy.host` over its Unix socket. Nothing heavy is imported here.
"""

from .errors import DeployError, HostUnavailable, SandboxError, ServiceConflict, SpecError, UnknownService
from .interfaces import (
    TIMEOUT_HEADER,
    Deployer,
    Failure,
    FailureKind,
    Limits,
    Reply,
    ServiceSpec,
    ServiceStatus,
)

__all__ = [
    "TIMEOUT_HEADER", "DeployError", "Deployer", "Failure", "FailureKind", "HostUnavailable", "Limits", "Reply", "SandboxError",
    "ServiceConflict", "ServiceSpec", "ServiceStatus", "SpecError", "UnknownService",
]
