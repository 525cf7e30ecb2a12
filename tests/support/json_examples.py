"""The simplest request bodies a route's JSON Schema accepts, to reach the handler behind validation."""

from __future__ import annotations

from jsonschema import Draft202012Validator


def example(schema: dict):
    """The simplest value a JSON Schema accepts (to reach the handler behind body validation)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: example(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "string":
        shortest = max(schema.get("minLength", 0), 1)
        for candidate in ("x" * shortest, "admin-matrix@example.org", "1" * max(shortest, 6)):
            if Draft202012Validator(schema).is_valid(candidate):
                return candidate
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    raise AssertionError(f"teach example() a value for {schema}")
