"""The small HTTP layer every function shares: routing, authentication, CSRF, validation, errors.

A function declares routes on an `Api`; the `Api` instance is itself the functions-framework
target (`def auth(request): return api.handle(request)`). Every route names its access rule:
nothing is reachable without a session unless it says `Access.PUBLIC` (deny by default).
"""

from __future__ import annotations

import enum
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as RouteMethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule

from functions.common import db
from functions.common.config import Settings, get_settings
from functions.common.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from functions.common.logs import configure_logging, request_id_var
from functions.common.tokens import Principal, TokenInvalid, verifier

log = logging.getLogger(__name__)

ACCESS_COOKIE = "mcc_access"
CSRF_COOKIE = "mcc_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Access(enum.StrEnum):
    """Who may call a route."""

    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    ADMIN = "admin"


@dataclass
class Route:
    rule: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    access: Access
    summary: str
    body: dict | None
    max_body: int | None


@dataclass
class Cookie:
    name: str
    value: str
    max_age: int | None
    path: str = "/"
    http_only: bool = True
    same_site: str = "Strict"


@dataclass
class RequestContext:
    """What a handler needs: the request, the caller, the validated body and a database session."""

    request: flask.Request
    settings: Settings
    principal: Principal | None
    request_id: str
    client_ip: str
    body: Any = None
    via_cookie: bool = False
    cookies: list[Cookie] = field(default_factory=list)
    _db: Session | None = None

    @property
    def db(self) -> Session:
        if self._db is None:
            self._db = db.new_session()
        return self._db

    @property
    def user_agent(self) -> str:
        return (self.request.headers.get("User-Agent") or "")[:400]

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise NotAuthenticated("Sign in to continue.")
        return self.principal

    def set_cookie(self, name: str, value: str, *, max_age: int | None, path: str = "/", http_only: bool = True,
                   same_site: str = "Strict") -> None:
        self.cookies.append(Cookie(name, value, max_age, path, http_only, same_site))

    def delete_cookie(self, name: str, *, path: str = "/") -> None:
        self.cookies.append(Cookie(name, "", 0, path))


AdminCheck = Callable[[RequestContext], None]


class Api:
    """A function's routes and the request pipeline around them."""

    def __init__(self, name: str, *, prefix: str, title: str, admin_check: AdminCheck | None = None) -> None:
        self.name, self.prefix, self.title = name, prefix.rstrip("/"), title
        self.routes: list[Route] = []
        self.admin_check = admin_check
        self._map = Map(strict_slashes=False)
        self.route("/healthz", access=Access.PUBLIC, summary="Liveness")(lambda ctx: {"status": "ok"})
        self.route("/readyz", access=Access.PUBLIC, summary="Readiness: database reachable")(self._readyz)
        self.route("/openapi.json", access=Access.PUBLIC, summary="This OpenAPI document")(
            lambda ctx: self.openapi()
        )
        self._map.add(Rule("/healthz", endpoint=0, methods=["GET"]))
        self._map.add(Rule("/readyz", endpoint=1, methods=["GET"]))

    def route(
        self,
        rule: str,
        methods: tuple[str, ...] = ("GET",),
        *,
        access: Access = Access.SIGNED_IN,
        summary: str = "",
        body: dict | None = None,
        max_body: int | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a handler `fn(ctx, **path_args)`; `body` is the JSON Schema its JSON body must meet."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            if body is not None:
                Draft202012Validator.check_schema(body)
            self.routes.append(Route(rule, methods, fn, access, summary, body, max_body))
            self._map.add(Rule(self.prefix + rule, endpoint=len(self.routes) - 1, methods=list(methods)))
            return fn

        return register

    def _readyz(self, ctx: RequestContext) -> dict:
        try:
            db.ping()
        except Exception as e:  # noqa: BLE001 - any failure means not ready
            raise ServiceUnavailable("database unreachable") from e
        return {"status": "ready"}

    # ------------------------------------------------------------------ pipeline
    def handle(self, request: flask.Request) -> flask.Response:
        """Entry point: functions-framework calls this with the Flask request."""
        settings = get_settings()
        configure_logging(settings.log_level)
        rid = request.headers.get("X-Request-ID", "")
        rid = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        ctx = RequestContext(request, settings, None, rid, _client_ip(request, settings))
        route: Route | None = None
        try:
            route, args = self._match(request)
            response = self._run(ctx, route, args)
            if ctx._db is not None:
                ctx._db.commit()
        except ApiError as e:
            response = _problem_response(e)
        except Exception:  # noqa: BLE001 - the client gets a generic 500, the log gets the trace
            log.exception("unhandled error")
            response = _problem_response(InternalError("Something went wrong on our side; quote the request id."))
        finally:
            if ctx._db is not None:
                ctx._db.rollback()
                ctx._db.close()
        for c in ctx.cookies:
            response.set_cookie(c.name, c.value, max_age=c.max_age, path=c.path, secure=settings.cookie_secure,
                                httponly=c.http_only, samesite=c.same_site)
        response.headers["X-Request-ID"] = rid
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        log.info("request", extra={
            "method": request.method, "route": route.rule if route else None, "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "user": str(ctx.principal.user_id) if ctx.principal else None,
        })
        request_id_var.reset(token)
        return response

    def _match(self, request: flask.Request) -> tuple[Route, dict]:
        adapter = self._map.bind("", path_info=request.path)
        try:
            endpoint, args = adapter.match(request.path, method=request.method)
        except RouteMethodNotAllowed as e:
            raise MethodNotAllowed("This method is not allowed here.",
                                   headers={"Allow": ", ".join(e.valid_methods or [])}) from None
        except (RouteNotFound, HTTPException):
            raise NotFound("No such endpoint.") from None
        return self.routes[endpoint], args

    def _run(self, ctx: RequestContext, route: Route, args: dict) -> flask.Response:
        self._authenticate(ctx, route)
        self._check_csrf(ctx)
        if route.access is Access.ADMIN:
            if self.admin_check is None:
                raise Forbidden("Administrators only.")
            self.admin_check(ctx)
        if route.body is not None:
            ctx.body = _json_body(ctx, route)
        elif ctx.request.method in UNSAFE_METHODS and route.max_body is None:
            _read_limited(ctx.request, ctx.settings.max_body_bytes)
        result = route.handler(ctx, **args)
        return _to_response(result)

    def _authenticate(self, ctx: RequestContext, route: Route) -> None:
        request = ctx.request
        header = request.headers.get("Authorization", "")
        token = None
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
        elif request.cookies.get(ACCESS_COOKIE):
            token, ctx.via_cookie = request.cookies[ACCESS_COOKIE], True
        if token:
            try:
                ctx.principal = verifier().principal(token)
            except TokenInvalid as e:
                if route.access is not Access.PUBLIC:
                    code = "token_expired" if e.expired else "invalid_token"
                    raise NotAuthenticated(str(e).capitalize() + ".", code=code) from e
                ctx.via_cookie = False
        if route.access is not Access.PUBLIC and ctx.principal is None:
            raise NotAuthenticated("Sign in to continue.")

    def _check_csrf(self, ctx: RequestContext) -> None:
        request = ctx.request
        if request.method not in UNSAFE_METHODS:
            return
        if ctx.via_cookie:
            require_csrf_token(request)
        origin = request.headers.get("Origin")
        if origin and origin != ctx.settings.public_url and "Authorization" not in request.headers:
            raise Forbidden("Cross-origin request refused.", code="csrf")

    # ------------------------------------------------------------------ OpenAPI
    def openapi(self) -> dict:
        paths: dict[str, dict] = {}
        for r in self.routes:
            path = self.prefix + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", r.rule)
            for method in r.methods:
                op: dict[str, Any] = {"summary": r.summary or r.handler.__doc__ or "", "responses": {
                    "200": {"description": "Success"},
                    "default": {"description": "Problem", "content": {"application/problem+json": {}}},
                }}
                if r.access is not Access.PUBLIC:
                    op["security"] = [{"bearer": []}, {"cookie": []}]
                    op["x-access"] = str(r.access)
                else:
                    op["security"] = []
                if r.body is not None:
                    op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
                params = re.findall(r"<(?:[^:>]+:)?([^>]+)>", r.rule)
                if params:
                    op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                        for p in params]
                paths.setdefault(path, {})[method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": "1"},
            "paths": paths,
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE},
            }},
        }


def require_csrf_token(request: flask.Request) -> None:
    """Double-submit check: the X-CSRF-Token header must equal the mcc_csrf cookie."""
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again.", code="csrf")


def _client_ip(request: flask.Request, settings: Settings) -> str:
    if settings.trusted_proxies:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= settings.trusted_proxies:
            return hops[-settings.trusted_proxies]
    return request.remote_addr or "unknown"


def _read_limited(request: flask.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return data


def _json_body(ctx: RequestContext, route: Route) -> Any:
    request = ctx.request
    limit = route.max_body or ctx.settings.max_body_bytes
    if request.mimetype == "application/json":
        raw = _read_limited(request, limit)
    elif request.mimetype or _read_limited(request, limit):
        raise UnsupportedMediaType("Send the body as application/json.")
    else:
        raw = b"{}"  # no body at all is an empty object: a browser's cookie-only refresh sends none
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}.", code="malformed_json") from None
    errors = sorted(Draft202012Validator(route.body).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        problems = []
        for err in errors:
            name = ".".join(str(p) for p in err.path)
            if err.validator == "required":
                name = err.message.split("'")[1]
                message = "is required"
            elif err.validator == "additionalProperties":
                message = "unknown field(s): " + err.message.split("(")[-1].rstrip(")")
            else:
                message = _schema_message(err)
            problems.append({"field": name or "body", "message": message})
        detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ValidationFailed(detail, errors=problems)
    return data


def _schema_message(err: Any) -> str:
    v, expected = err.validator, err.validator_value
    if v == "type":
        return f"must be of type {expected}"
    if v == "minLength":
        return f"must be at least {expected} characters"
    if v == "maxLength":
        return f"must be at most {expected} characters"
    if v == "enum":
        return "must be one of " + ", ".join(map(str, expected))
    if v == "format":
        return f"must be a valid {expected}"
    if v == "pattern":
        return "has the wrong format"
    return err.message


def _to_response(result: Any) -> flask.Response:
    if isinstance(result, flask.Response):
        return result
    status = 200
    if isinstance(result, tuple):
        result, status = result
    if result is None:
        return flask.Response(status=204 if status == 200 else status)
    return flask.Response(json.dumps(result, default=str), status=status, mimetype="application/json")


def _problem_response(e: ApiError) -> flask.Response:
    resp = flask.Response(json.dumps(e.to_problem()), status=e.status, mimetype="application/problem+json")
    for k, v in e.headers.items():
        resp.headers[k] = v
    return resp


def json_schema(properties: dict, required: list[str] | None = None) -> dict:
    """An object schema that refuses unknown fields; every field is required unless `required` lists fewer."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False}


def paging(args: Any, *, default_limit: int, max_limit: int) -> tuple[int, int]:
    """`limit` and `offset` from a query string: whole numbers, 1 ≤ limit ≤ max_limit, offset ≥ 0."""
    bounds = {"limit": (default_limit, 1, max_limit), "offset": (0, 0, None)}
    values: dict[str, int] = {}
    for name, (default, low, high) in bounds.items():
        try:
            value = int(args.get(name, default))
        except (TypeError, ValueError):
            raise ValidationFailed.field(name, "must be a whole number") from None
        if value < low or (high is not None and value > high):
            raise ValidationFailed.field(name, f"must be from {low} to {high}" if high else f"must be at least {low}")
        values[name] = value
    return values["limit"], values["offset"]


EMAIL = {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024}
