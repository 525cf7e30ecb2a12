"""The one refusal of a model's result: what differs between the output and the series it was run on."""

from __future__ import annotations


class ResultRefused(ValueError):
    """A model's output that cannot become DICOM of its source series; `reason` says what differs and how to fix it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
