"""The runtime's errors: one root under the SDK's, each carrying the HTTP status the server answers with."""

from __future__ import annotations

from ..errors import ModelBuilderError


class ModelRuntimeError(ModelBuilderError):
    """Root of every error the model runtime raises; `status` is the HTTP status it becomes."""

    status = 500

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class ProtocolError(ModelRuntimeError, ValueError):
    """A V2 message is malformed; `detail` says what to send instead."""

    status = 400


class PayloadTooLarge(ModelRuntimeError):
    """A request body exceeds the runtime's cap."""

    status = 413

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the request body has {size} bytes, over this runtime's limit of {limit}: send a smaller"
                         " series, or start the runtime with a larger --max-request-bytes")


class RuntimeLoadError(ModelRuntimeError):
    """A bundle cannot be loaded: bad manifest, entry point missing, import or constructor failed."""

    def __init__(self, detail: str, *, location: str = "") -> None:
        self.location = location
        super().__init__(f"{detail} (at {location})" if location else detail)


class ModelFailedError(ModelRuntimeError):
    """The model's own code raised while running; `location` is the researcher's file:line."""

    def __init__(self, exception_type: str, message: str, *, location: str = "") -> None:
        self.exception_type = exception_type
        self.location = location
        where = f" at {location}" if location else ""
        super().__init__(f"the model failed: {exception_type}: {message}{where}")


class ModelCallError(ModelRuntimeError):
    """A served model answered an error; `status` and `detail` are its HTTP status and V2 error message."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status  # type: ignore[misc]
        super().__init__(detail)
