"""The HTTP layer every function shares: an `Api` of declared routes and the pipeline around them.

`api.py` runs a request (authentication, CSRF, the route's access requirement, path parameters,
body, problem+json errors); `routes.py` is what a route declares; `context.py` what a view gets;
`bodies.py` bodies, query strings and shared schemas; `responses.py` answers and OpenAPI.
"""

from functions.common.http.api import Api, require_csrf_token
from functions.common.http.bodies import EMAIL, PASSWORD, json_schema, one_of, paging, paging_query, read_limited
from functions.common.http.context import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    CSRF_HEADER,
    UNSAFE_METHODS,
    Cookie,
    RequestContext,
    host_cookie,
)
from functions.common.http.routes import ACCEPTED, CREATED, NO_CONTENT, OK, REDIRECT, Access, Answer, Route

__all__ = [
    "ACCEPTED", "ACCESS_COOKIE", "CREATED", "CSRF_COOKIE", "CSRF_HEADER", "EMAIL", "NO_CONTENT", "OK", "PASSWORD",
    "REDIRECT", "UNSAFE_METHODS", "Access", "Answer", "Api", "Cookie", "RequestContext", "Route", "host_cookie",
    "json_schema", "one_of", "paging", "paging_query", "read_limited", "require_csrf_token",
]
