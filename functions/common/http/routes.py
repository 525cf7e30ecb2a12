"""What a route declares: its access requirement, its path parameters' kinds, its body, its query
parameters and what it answers.

A route says once who may call it (`Access`) and what its path parameters are (`<uid:study>`,
`<uuid:group_id>`); the pipeline enforces both before the handler runs, so views do neither. Its
`Answer`s and query parameters make its OpenAPI document, which the fuzz test holds the route to.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from werkzeug.routing import BaseConverter

if TYPE_CHECKING:
    from functions.common.http.context import RequestContext

UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"
_UID = re.compile(UID_PATTERN)
FRAMES_PATTERN = r"^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,999}$"
_FRAMES = re.compile(FRAMES_PATTERN)


@dataclass(frozen=True)
class Access:
    """Who may call a route: checked after authentication, before the body is read.

    Deny by default: only `Access.PUBLIC` lets a caller without a session through. Functions and
    the permission model define further requirements with a `check` (e.g. administrators with a
    second factor, accounts with access to patient data)."""

    name: str
    check: Callable[[RequestContext], None] | None = None
    public: bool = False

    PUBLIC: ClassVar[Access]
    SIGNED_IN: ClassVar[Access]

    def __str__(self) -> str:
        return self.name


Access.PUBLIC = Access("public", public=True)
Access.SIGNED_IN = Access("signed_in")


@dataclass(frozen=True)
class Answer:
    """A successful answer a route gives, for its OpenAPI document: the status (the view's default status
    too), the media types, the JSON Schema of the body when there is one, and the headers it always has."""

    status: int = 200
    media_types: tuple[str, ...] = ("application/json",)
    schema: dict | None = None
    headers: tuple[str, ...] = ()


OK = Answer()
CREATED = Answer(201)
ACCEPTED = Answer(202)
NO_CONTENT = Answer(204, ())
REDIRECT = Answer(302, (), headers=("Location",))


@dataclass
class Route:
    rule: str
    methods: tuple[str, ...]
    handler: Callable[..., Any]
    access: Access
    summary: str
    body: dict | None
    max_body: int | None
    answers: tuple[Answer, ...] = (OK,)
    query: dict[str, dict] | None = None  # the query parameters it reads, by name: their JSON Schemas
    accepts: tuple[str, ...] = ()  # the media types of a body that is not JSON (uploads)


class Malformed(str):
    """A path parameter that is not of its declared kind: answered like an unknown resource (404)
    once the caller is authenticated and authorised, so a bad id reveals nothing either."""

    detail: str | None = None


class _Parsed(BaseConverter):
    """Matches any one path segment; `parse` turns it into the declared kind or a `Malformed`."""

    regex = "[^/]+"
    schema: ClassVar[dict] = {"type": "string"}
    detail: ClassVar[str | None] = None  # the 404's detail; None: "No such <parameter>."

    def to_python(self, value: str) -> Any:
        try:
            return self.parse(value)
        except ValueError:
            malformed = Malformed(value)
            malformed.detail = self.detail
            return malformed

    def parse(self, value: str) -> Any:
        raise NotImplementedError


class UidConverter(_Parsed):
    """A DICOM UID (PS3.5 9.1: digits and dots, at most 64 characters)."""

    schema: ClassVar[dict] = {"type": "string", "pattern": UID_PATTERN, "maxLength": 64}

    def parse(self, value: str) -> str:
        if len(value) > 64 or not _UID.match(value):
            raise ValueError(value)
        return value


class UuidConverter(_Parsed):
    """A platform id (users, groups, shares, models, certificates, sessions)."""

    schema: ClassVar[dict] = {"type": "string", "format": "uuid"}

    def parse(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)


class FramesConverter(_Parsed):
    """WADO-RS frame numbers: a comma-separated list of positive integers."""

    schema: ClassVar[dict] = {"type": "string", "pattern": FRAMES_PATTERN}
    detail: ClassVar[str | None] = "Frame numbers are a comma-separated list of positive integers."

    def parse(self, value: str) -> str:
        if not _FRAMES.match(value):
            raise ValueError(value)
        return value


class VersionConverter(_Parsed):
    """A model version number: a positive integer."""

    schema: ClassVar[dict] = {"type": "integer", "minimum": 1, "maximum": 1000000}

    def parse(self, value: str) -> int:
        if not value.isdigit() or not 1 <= int(value) <= 1000000 or value != str(int(value)):
            raise ValueError(value)
        return int(value)


CONVERTERS: dict[str, type[_Parsed]] = {"uid": UidConverter, "uuid": UuidConverter, "frames": FramesConverter,
                                        "version": VersionConverter}
PARAM = re.compile(r"<(?:([^:>]+):)?([^>]+)>")


def openapi_path(rule: str) -> str:
    return PARAM.sub(r"{\2}", rule)


def path_parameters(rule: str) -> list[dict]:
    """OpenAPI parameter objects of a rule's path parameters, typed by their converter."""
    return [{"name": name, "in": "path", "required": True,
             "schema": CONVERTERS[kind].schema if kind in CONVERTERS else {"type": "string"}}
            for kind, name in PARAM.findall(rule)]
