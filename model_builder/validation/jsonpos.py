"""Where a JSON path (`$.labels[1].code.value`) is in a JSON text, so a manifest problem lands on its line."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"-?(?:[0-9][0-9.eE+-]*|Infinity)|NaN|true|false|null")  # json.loads takes NaN, Infinity
_LAST_STEP = re.compile(r"(\[\d+\]|\.[^.\[]*)$")


@dataclass(frozen=True)
class Position:
    """A line and column, both from 1."""

    line: int
    column: int


class JsonPositions:
    """Positions of every value (and object key) of a valid JSON text, by JSON path: `$`, `$.a`, `$.a[0].b`."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._values: dict[str, int] = {}
        self._keys: dict[str, int] = {}
        end = self._value(self._skip(0), "$")
        if self._skip(end) != len(text):
            raise ValueError("JsonPositions needs one valid JSON text; check it with json.loads first")

    def has(self, path: str) -> bool:
        """Whether the text has a value at `path`."""
        return path in self._values

    def find(self, path: str) -> Position:
        """The line of `path` (its key for an object member), else of its nearest enclosing value that exists."""
        while path not in self._values and (parent := _LAST_STEP.sub("", path)) != path:
            path = parent
        offset = self._keys.get(path, self._values.get(path, 0))
        line = bisect.bisect_right(self._line_starts, offset)
        return Position(line, offset - self._line_starts[line - 1] + 1)

    def _skip(self, i: int) -> int:
        return _WHITESPACE.match(self._text, i).end()  # type: ignore[union-attr]

    def _value(self, i: int, path: str) -> int:
        """Record the value starting at i (and everything inside it); return the index after it."""
        self._values[path] = i
        char = self._text[i]
        if char == "{":
            return self._container(i, "}", path, keyed=True)
        if char == "[":
            return self._container(i, "]", path, keyed=False)
        match = (_STRING if char == '"' else _SCALAR).match(self._text, i)
        if match is None:
            raise ValueError(f"not JSON at offset {i}")
        return match.end()

    def _container(self, i: int, close: str, path: str, *, keyed: bool) -> int:
        i = self._skip(i + 1)
        index = 0
        while self._text[i] != close:
            if keyed:
                key = _STRING.match(self._text, i)
                if key is None:
                    raise ValueError(f"not JSON at offset {i}")
                child = f"{path}.{json.loads(key.group())}"
                self._keys[child] = i
                i = self._skip(self._skip(key.end()) + 1)  # past the colon
            else:
                child = f"{path}[{index}]"
            i = self._skip(self._value(i, child))
            index += 1
            if self._text[i] == ",":
                i = self._skip(i + 1)
        return i + 1
