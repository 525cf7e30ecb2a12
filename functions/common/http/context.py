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

ACCESS_COOKIE = "mcc_access"  # the names of the path-/ cookies before `host_cookie` prefixes them
CSRF_COOKIE = "mcc_csrf"
CSRF_HEADER = "X-CSRF-Token"
HOST_PREFIX = "__Host-"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def host_cookie(name: str, settings: Settings) -> str:
    """A path-/ cookie's name: `__Host-` prefixed when cookies are Secure, so browsers keep it to this very
    origin (Secure, no Domain, path /) and no sibling subdomain or plain-HTTP page can set or shadow it. The
    prefix requires Secure: with MCC_COOKIE_SECURE=false (plain-HTTP development) the name is unprefixed."""
    return HOST_PREFIX + name if settings.cookie_secure else name


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
    def access_cookie(self) -> str:
        """The access token's cookie, as named under this configuration (`host_cookie`)."""
        return host_cookie(ACCESS_COOKIE, self.settings)

    @property
    def csrf_cookie(self) -> str:
        """The CSRF token's cookie, readable by the portal's and the viewer's scripts (`host_cookie`)."""
        return host_cookie(CSRF_COOKIE, self.settings)

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
