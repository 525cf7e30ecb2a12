"""What the pipeline sends back: a view's result as JSON, an error as problem+json, the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import flask

from functions.common.http.context import ACCESS_COOKIE, host_cookie
from functions.common.http.routes import Route, openapi_path, path_parameters
from functions.common.platform.config import Settings
from functions.common.platform.errors import ApiError


def to_response(result: Any) -> flask.Response:
    """A view returns a Response, a JSON-able value, `(value, status)`, or None (204)."""
    if isinstance(result, flask.Response):
        return result
    status = 200
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


def openapi(title: str, prefix: str, routes: list[Route], settings: Settings) -> dict:
    """The OpenAPI 3.1 document of a function's routes, with each route's access requirement."""
    paths: dict[str, dict] = {}
    for r in routes:
        for method in r.methods:
            op: dict[str, Any] = {"summary": r.summary or r.handler.__doc__ or "", "responses": {
                "200": {"description": "Success"},
                "default": {"description": "Problem", "content": {"application/problem+json": {}}},
            }}
            if r.access.public:
                op["security"] = []
            else:
                op["security"] = [{"bearer": []}, {"cookie": []}]
                op["x-access"] = str(r.access)
            if r.body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
            if params := path_parameters(r.rule):
                op["parameters"] = params
            paths.setdefault(prefix + openapi_path(r.rule), {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": host_cookie(ACCESS_COOKIE, settings)},
        }},
    }
