"""What validation reports: every problem of a bundle with its stage and, when known, its file, line and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ModelBuilderError

Stage = Literal["archive", "manifest", "static", "smoke"]
STAGES: tuple[str, ...] = ("archive", "manifest", "static", "smoke")


@dataclass(frozen=True)
class Problem:
    """One thing the researcher must fix; `file` is relative to the bundle's root, `line` and `column` count from 1."""

    stage: Stage
    file: str | None
    line: int | None
    column: int | None
    message: str

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"Problem.stage must be one of {STAGES}, got {self.stage!r}")

    def to_json(self) -> dict[str, Any]:
        """The problem as the editor reads it (every key present, null when unknown)."""
        return {"stage": self.stage, "file": self.file, "line": self.line, "column": self.column,
                "message": self.message}

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.column) if part is not None)
        return f"[{self.stage}] {where + ': ' if where else ''}{self.message}"


class ValidationFailed(ModelBuilderError, ValueError):
    """A bundle was refused; `problems` lists every problem found, in the order the checks ran."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"the bundle has {len(self.problems)} problem(s):\n{lines}")

    def to_json(self) -> list[dict[str, Any]]:
        """Every problem, as the editor reads them."""
        return [problem.to_json() for problem in self.problems]
