"""The deployer's errors: one root, each carrying the data needed to act on it."""

from __future__ import annotations

from ..errors import ModelBuilderError

ERROR_HEADER = "X-Deploy-Error"  # on the host's own error replies, so a client tells them from a model's reply


class DeployError(ModelBuilderError):
    """Root of every error the deployers raise."""

    status = 500
    code = "deploy-error"
    fields: tuple[str, ...] = ()  # the constructor's arguments, so the error crosses the host's API intact

    def to_json(self) -> dict[str, object]:
        """The error as the host's API sends it: message, code and the data it carries."""
        return {"error": str(self), "code": self.code, **{name: getattr(self, name) for name in self.fields}}


class SpecError(DeployError, ValueError):
    """A service spec (or a value in it) is invalid; `field` names the value at fault."""

    status = 400
    code = "invalid-spec"
    fields = ("field", "detail")

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")


class UnknownService(DeployError, LookupError):
    """No service of that name is deployed."""

    status = 404
    code = "unknown-service"
    fields = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no model service named {name!r} is deployed: deploy it first (PUT /services/{name})")


class ServiceConflict(DeployError):
    """A service of that name is deployed with a different spec."""

    status = 409
    code = "service-conflict"
    fields = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"the model service {name!r} is already deployed with another spec: undeploy it first")


class SandboxError(DeployError):
    """The sandbox cannot be built on this machine (a tool, user or path is missing); `fix` says what to do."""

    code = "sandbox-unavailable"
    fields = ("detail", "fix")

    def __init__(self, detail: str, fix: str) -> None:
        self.detail = detail
        self.fix = fix
        super().__init__(f"{detail}: {fix}")


class HostUnavailable(DeployError):
    """The deploy host's socket cannot be reached or answered something that is not its API."""

    status = 503
    code = "host-unavailable"
    fields = ("socket_path", "detail")

    def __init__(self, socket_path: str, detail: str) -> None:
        self.socket_path = socket_path
        self.detail = detail
        super().__init__(f"the model deploy host at {socket_path} is unavailable ({detail}): "
                         "is `python -m model_builder.deploy.host` running?")


ERRORS_BY_CODE: dict[str, type[DeployError]] = {
    cls.code: cls for cls in (SpecError, UnknownService, ServiceConflict, SandboxError, HostUnavailable)
}


def error_from_json(data: dict[str, object]) -> DeployError | None:
    """Rebuild the typed error a host sent (`DeployError.to_json`), or None when `data` is not one."""
    cls = ERRORS_BY_CODE.get(str(data.get("code")))
    if cls is None or any(name not in data for name in cls.fields):
        return None
    return cls(*(str(data[name]) for name in cls.fields))
