"""What the pipeline sends back: a view's result as JSON, an error as problem+json, the OpenAPI document."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import flask

from functions.common.http.context import ACCESS_COOKIE, host_cookie
from functions.common.http.routes import Answer, Route, openapi_path, path_parameters
from functions.common.platform.config import Settings
from functions.common.platform.errors import ApiError


def to_response(result: Any, *, status: int = 200) -> flask.Response:
    """A view returns a Response, a JSON-able value (answered with `status`, the route's declared one), `(value,
    status)`, or None (204)."""
    if isinstance(result, flask.Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if result is None:
        return flask.Response(status=204 if status == 200 else status)
    return flask.Response(json.dumps(result, default=str), status=status, mimetype="application/json")


def problem_response(e: ApiError) -> flask.Response:
    resp = flask.Response(json.dumps(e.to_problem()), status=e.status, mimetype="application/problem+json")
    for k, v in e.headers.items():
        resp.headers[k] = v
    return resp


# What every error answer is (RFC 7807, `ApiError.to_problem`): the document says so for every 4xx and 5xx.
PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string", "minLength": 1},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "minLength": 1}, "code": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
_PROBLEM = {"description": "Problem (RFC 7807)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def openapi(title: str, prefix: str, routes: list[Route], settings: Settings) -> dict:
    """The OpenAPI 3.1 document of a function's routes: each route's access requirement, parameters, body and
    answers (every error a problem+json)."""
    paths: dict[str, dict] = {}
    for r in routes:
        for method in r.methods:
            op: dict[str, Any] = {"summary": r.summary or r.handler.__doc__ or "", "responses": {
                **{str(a.status): _answer(a) for a in r.answers}, "4XX": _PROBLEM, "5XX": _PROBLEM,
            }}
            if r.access.public:
                op["security"] = []
            else:
                op["security"] = [{"bearer": []}, {"cookie": []}]
                op["x-access"] = str(r.access)
            if r.body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
            elif r.accepts:
                op["requestBody"] = {"required": True, "content": {
                    media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in r.accepts}}
            params = path_parameters(r.rule) + [{"name": name, "in": "query", "required": False, "schema": schema}
                                                for name, schema in (r.query or {}).items()]
            if params:
                op["parameters"] = params
            paths.setdefault(prefix + openapi_path(r.rule), {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": host_cookie(ACCESS_COOKIE, settings)},
            },
        },
    }


def _answer(answer: Answer) -> dict[str, Any]:
    described: dict[str, Any] = {"description": HTTPStatus(answer.status).phrase}
    if answer.media_types:
        described["content"] = {media_type: {"schema": answer.schema} if answer.schema is not None else {}
                                for media_type in answer.media_types}
    if answer.headers:
        described["headers"] = {name: {"required": True, "schema": {"type": "string"}} for name in answer.headers}
    return described
