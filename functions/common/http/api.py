"""The request pipeline every function shares: routing, authentication, CSRF, access, bodies, errors.

A function declares routes on an `Api`; the `Api` instance is itself the functions-framework
target (`def auth(request): return api.handle(request)`). Every route names its access
requirement: nothing is reachable without a session unless it says `Access.PUBLIC` (deny by
default). Per request: match → authenticate → CSRF → the route's requirement → path parameters
of their declared kind → body → the view → commit.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import flask
from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as RouteMethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule

from functions.common.http.bodies import json_body, read_limited, refuse_nul
from functions.common.http.context import CSRF_HEADER, UNSAFE_METHODS, RequestContext
from functions.common.http.responses import openapi, problem_response, to_response
from functions.common.http.routes import CONVERTERS, OK, Access, Answer, Malformed, Route
from functions.common.platform import db
from functions.common.platform.config import Settings, get_settings
from functions.common.platform.errors import (
    ApiError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    Refused,
    ServiceUnavailable,
)
from functions.common.platform.logs import configure_logging, request_id_var
from functions.common.security import audit
from functions.common.security.tokens import TokenInvalid, verifier

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NOUNS = {"sop": "instance", "cert": "certificate"}  # what a malformed path parameter is called in its 404


class Api:
    """A function's routes and the request pipeline around them."""

    def __init__(self, name: str, *, prefix: str, title: str, home: str | None = None) -> None:
        """`home`: where the function's own routes (health, readiness, this document) live when its `prefix`
        is shared with other functions (sharing's `/api`: its document is `/api/sharing/openapi.json`)."""
        self.name, self.prefix, self.title = name, prefix.rstrip("/"), title
        self.home = (home or prefix).rstrip("/")
        if not self.home.startswith(self.prefix):
            raise ValueError(f"home: {home!r} must lie under the prefix {prefix!r}")
        self.routes: list[Route] = []
        self._map = Map(strict_slashes=False, converters=CONVERTERS)
        own = self.home.removeprefix(self.prefix)
        self.route(own + "/healthz", access=Access.PUBLIC, summary="Liveness")(lambda ctx: {"status": "ok"})
        self.route(own + "/readyz", access=Access.PUBLIC, summary="Readiness: database reachable")(self._readyz)
        self.route(own + "/openapi.json", access=Access.PUBLIC, summary="This OpenAPI document")(
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
        answers: Answer | tuple[Answer, ...] = OK,
        query: dict[str, dict] | None = None,
        accepts: tuple[str, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a view `fn(ctx, **path_args)`; `body` is the JSON Schema its JSON body must meet, `accepts`
        the media types of a body that is not JSON; `answers` what it answers when it succeeds (the first
        one's status is the view's default), `query` the JSON Schemas of the query parameters it reads."""
        answers = answers if isinstance(answers, tuple) else (answers,)

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            for schema in [body, *(a.schema for a in answers), *(query or {}).values()]:
                if schema is not None:
                    Draft202012Validator.check_schema(schema)
            self.routes.append(Route(rule, methods, fn, access, summary, body, max_body, answers, query, accepts))
            self._map.add(Rule(self.prefix + rule, endpoint=len(self.routes) - 1, methods=list(methods)))
            return fn

        return register

    def openapi(self) -> dict:
        return openapi(self.title, self.prefix, self.routes, get_settings())

    def mount(self) -> None:
        """Called by the function's main.py, which functions-framework runs in its app's context: a request its
        catch-all route cannot match (a path with an encoded line break) comes here too, not to Flask's HTML 404."""
        if flask.has_app_context():
            flask.current_app.register_error_handler(404, lambda e: self.handle(flask.request))

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
            response = problem_response(e)
            if isinstance(e, Refused) and ctx.principal is not None:
                _audit_refusal(ctx, e)
        except Exception as e:  # noqa: BLE001 - a 503 if the database is away, else a generic 500 (the log has the trace)
            if db.unavailable(e):  # down or restarting: the client may try again, as Retry-After says
                log.warning("database unavailable", extra={"error": type(e).__name__})
                response = problem_response(db.DatabaseUnavailable())
            else:
                log.exception("unhandled error")
                response = problem_response(InternalError("Something went wrong on our side; quote the request id."))
        finally:
            if ctx._db is not None:
                db.discard(ctx._db)  # the answer is decided: a connection the database dropped changes nothing
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
        if route.access.check is not None:
            route.access.check(ctx)
        for name, value in args.items():
            if isinstance(value, Malformed):
                raise NotFound(value.detail or f"No such {_noun(name)}.")
        for name, value in ctx.request.args.items(multi=True):
            refuse_nul(name, name)
            refuse_nul(value, name)
        if route.body is not None:
            ctx.body = json_body(ctx.request, route.body, limit=route.max_body or ctx.settings.max_body_bytes)
        elif ctx.request.method in UNSAFE_METHODS and route.max_body is None:
            read_limited(ctx.request, ctx.settings.max_body_bytes)
        return to_response(route.handler(ctx, **args), status=route.answers[0].status)

    def _authenticate(self, ctx: RequestContext, route: Route) -> None:
        request = ctx.request
        header = request.headers.get("Authorization", "")
        token = None
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
        elif request.cookies.get(ctx.access_cookie):
            token, ctx.via_cookie = request.cookies[ctx.access_cookie], True
        if token:
            try:
                ctx.principal = verifier().principal(token)
            except TokenInvalid as e:
                if not route.access.public:
                    code = "token_expired" if e.expired else "invalid_token"
                    raise NotAuthenticated(str(e).capitalize() + ".", code=code) from e
                ctx.via_cookie = False
        if not route.access.public and ctx.principal is None:
            raise NotAuthenticated("Sign in to continue.")

    def _check_csrf(self, ctx: RequestContext) -> None:
        request = ctx.request
        if request.method not in UNSAFE_METHODS:
            return
        if ctx.via_cookie:
            require_csrf_token(ctx)
        origin = request.headers.get("Origin")
        if origin and origin != ctx.settings.public_url and "Authorization" not in request.headers:
            raise Forbidden("Cross-origin request refused.", code="csrf")


def _audit_refusal(ctx: RequestContext, refused: Refused) -> None:
    """A read of something the caller may not see is audited (rate-limited per user), in a transaction of its
    own: the request's was rolled back. A failure to audit is logged and never changes the answer."""
    try:
        with db.session_scope() as session:
            audit.record_refusal(session, actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                                 target=refused.target, exists=refused.exists)
    except Exception:  # noqa: BLE001 - the client keeps its 404
        log.exception("recording a refused read failed")


def require_csrf_token(ctx: RequestContext) -> None:
    """Double-submit check: the X-CSRF-Token header must equal the CSRF cookie (`__Host-mcc_csrf`)."""
    sent = ctx.request.headers.get(CSRF_HEADER, "")
    expected = ctx.request.cookies.get(ctx.csrf_cookie, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("Missing or wrong CSRF token; reload the page and try again.", code="csrf")


def _noun(param: str) -> str:
    stem = param.removesuffix("_id").removesuffix("_uid")
    return _NOUNS.get(stem, stem.replace("_", " "))


def _client_ip(request: flask.Request, settings: Settings) -> str:
    if settings.trusted_proxies:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= settings.trusted_proxies:
            return hops[-settings.trusted_proxies]
    return request.remote_addr or "unknown"
