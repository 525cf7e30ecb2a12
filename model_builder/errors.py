"""The SDK's errors: one root, each subclass carrying the data a researcher needs to fix the problem."""

from __future__ import annotations


class ModelBuilderError(Exception):
    """Root of every error the SDK raises."""


class InputError(ModelBuilderError, ValueError):
    """A volume, or the attributes a task needs, is not what the task can run on."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}")


class TaskError(ModelBuilderError, ValueError):
    """An `InferTask` declaration is invalid (type, labels, modality or inputs)."""

    def __init__(self, task: str, field: str, detail: str) -> None:
        self.task = task
        self.field = field
        self.detail = detail
        super().__init__(f"{task}.{field}: {detail}")


class OutputError(ModelBuilderError, ValueError):
    """A model's output does not fit its task or its input volume."""

    def __init__(self, output: str, detail: str) -> None:
        self.output = output
        self.detail = detail
        super().__init__(f"{output}: {detail}")


class ManifestError(ModelBuilderError, ValueError):
    """A bundle manifest is invalid; `problems` lists every (JSON path, message) found."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {path}: {message}" for path, message in self.problems)
        super().__init__(f"the manifest has {len(self.problems)} problem(s):\n{lines}")
