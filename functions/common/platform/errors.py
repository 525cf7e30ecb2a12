"""One root exception for every error an API answers, rendered as RFC 7807 problem+json."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://medcloudcare.dev/problems/"


class ApiError(Exception):
    """An error the client caused or must know about; `code` is stable, `detail` says how to fix it."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.headers = headers or {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        return body

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None):
        """The error about one field (a body member, query parameter or header), named in `errors`."""
        return cls(f"{field}: {message}", code=code, errors=[{"field": field, "message": message}])


class BadRequest(ApiError):
    status, code, title = 400, "bad_request", "Bad request"


class ValidationFailed(ApiError):
    status, code, title = 422, "validation", "Invalid request"


class NotAcceptable(ApiError):
    """Nothing the server can send matches the request's Accept header (RFC 9110 15.5.7)."""

    status, code, title = 406, "not_acceptable", "Not acceptable"


class NotAuthenticated(ApiError):
    status, code, title = 401, "not_authenticated", "Not signed in"


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ApiError):
    status, code, title = 404, "not_found", "Not found"


class Refused(NotFound):
    """A resource the caller may not see (or that does not exist), answered like an unknown one; `target`
    names it for the audit log ("study:<uid>", "model:<id>"), never for the client."""

    def __init__(self, detail: str, *, target: str, exists: bool) -> None:
        super().__init__(detail)
        self.target, self.exists = target, exists


class Conflict(ApiError):
    status, code, title = 409, "conflict", "Conflict"


class MethodNotAllowed(ApiError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class LengthRequired(ApiError):
    status, code, title = 411, "length_required", "Length required"


class PayloadTooLarge(ApiError):
    status, code, title = 413, "too_large", "Request too large"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported_type", "Unsupported media type"


class TooManyRequests(ApiError):
    status, code, title = 429, "too_many_attempts", "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    status, code, title = 503, "unavailable", "Service unavailable"


class InternalError(ApiError):
    status, code, title = 500, "internal", "Internal error"
