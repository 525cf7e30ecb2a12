"""Request bodies and query strings: size limits, JSON Schema validation, paging, shared schemas."""

from __future__ import annotations

import json
from typing import Any

import flask
from jsonschema import Draft202012Validator

from functions.common.platform.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

EMAIL = {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 1024}


def json_schema(properties: dict, required: list[str] | None = None) -> dict:
    """An object schema that refuses unknown fields; every field is required unless `required` lists fewer."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False}


def read_limited(request: flask.Request, limit: int) -> bytes:
    """The whole body, refusing one larger than `limit` bytes (413) before or while reading it."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return data


def json_body(request: flask.Request, schema: dict, *, limit: int) -> Any:
    """The body as JSON that meets `schema`; every problem is named by its field (422)."""
    if request.mimetype == "application/json":
        raw = read_limited(request, limit)
    elif request.mimetype or read_limited(request, limit):
        raise UnsupportedMediaType("Send the body as application/json.")
    else:
        raw = b"{}"  # no body at all is an empty object: a browser's cookie-only refresh sends none
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}.", code="malformed_json") from None
    refuse_nul(data)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
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


NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def refuse_nul(value: Any, field: str = "body") -> None:
    """Text never holds U+0000 (PostgreSQL stores none, and no name, email or filter needs one): refused (422),
    naming the field, before anything reaches the database."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationFailed.field(field, NUL_MESSAGE)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key if field == "body" else f"{field}.{key}"
            refuse_nul(key, name)
            refuse_nul(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_nul(item, f"{field}.{index}")


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


MAX_OFFSET = 2**31 - 1  # far beyond any list, and within PostgreSQL's OFFSET and Orthanc's `offset`


def paging(args: Any, *, default_limit: int, max_limit: int) -> tuple[int, int]:
    """`limit` and `offset` from a query string: whole numbers, 1 ≤ limit ≤ max_limit, 0 ≤ offset ≤ MAX_OFFSET."""
    bounds = {"limit": (default_limit, 1, max_limit), "offset": (0, 0, MAX_OFFSET)}
    values: dict[str, int] = {}
    for name, (default, low, high) in bounds.items():
        try:
            value = int(args.get(name, default))
        except (TypeError, ValueError):
            raise ValidationFailed.field(name, "must be a whole number") from None
        if value < low or (high is not None and value > high):
            raise ValidationFailed.field(name, f"must be from {low} to {high}")
        values[name] = value
    return values["limit"], values["offset"]


def paging_query(*, max_limit: int) -> dict[str, dict]:
    """The query parameters `paging` reads, as an OpenAPI document declares them."""
    return {"limit": {"type": "integer", "minimum": 1, "maximum": max_limit},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}}


def one_of(args: Any, name: str, allowed: tuple[str, ...], *, default: str) -> str:
    """A query parameter that must be one of a few words (a scope, a sort order)."""
    value = args.get(name, default)
    if value not in allowed:
        raise ValidationFailed.field(name, "must be one of " + ", ".join(allowed))
    return value
