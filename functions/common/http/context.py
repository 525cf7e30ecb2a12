"""The request context a view receives: the request, the caller, the validated body, a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flask
from sqlalchemy.orm import Session

from functions.common.platform import db
from functions.common.platform.config import Settings
from functions.common.platform.errors import NotAuthenticated
from functions.common.security.tokens import Principal

ACCESS_COOKIE = "mcc_access"
CSRF_COOKIE = "mcc_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


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
    """What a view needs: the request, the caller, the validated body and a database session.

    Views unpack it and call services with explicit arguments; services never see it."""

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

    @property
    def args(self) -> Any:
        """The query string (a MultiDict)."""
        return self.request.args

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise NotAuthenticated("Sign in to continue.")
        return self.principal

    def set_cookie(self, name: str, value: str, *, max_age: int | None, path: str = "/", http_only: bool = True,
                   same_site: str = "Strict") -> None:
        self.cookies.append(Cookie(name, value, max_age, path, http_only, same_site))

    def delete_cookie(self, name: str, *, path: str = "/") -> None:
        self.cookies.append(Cookie(name, "", 0, path))
