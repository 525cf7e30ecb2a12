"""The vocabulary of a model: what kind of inference it does and the labels it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_LABEL_NAME = re.compile(r"^\S(.{0,62}\S)?$")


class InferType(str, Enum):
    """What a model produces; decides which output kind `InferTask` accepts."""

    SEGMENTATION = "segmentation"
    CLASSIFICATION = "classification"
    DETECTION = "detection"
    LOCALISATION = "localisation"
    PROCESSING = "processing"


@dataclass(frozen=True)
class Code:
    """A coded concept (DICOM code sequence item), e.g. `Code("10200004", "SCT", "Liver")`."""

    value: str
    scheme: str
    meaning: str

    def __post_init__(self) -> None:
        for field in ("value", "scheme", "meaning"):
            text = getattr(self, field)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"Code.{field} must be a non-empty string (e.g. value='10200004', scheme='SCT')")
        if len(self.value) > 64 or len(self.scheme) > 16 or len(self.meaning) > 64:
            raise ValueError("Code: value and meaning are at most 64 characters, scheme at most 16 (DICOM SH/LO)")


@dataclass(frozen=True)
class Label:
    """One thing a model finds: its name, an optional code (SNOMED CT...) and a display colour."""

    name: str
    code: Code | None = None
    colour: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _LABEL_NAME.match(self.name):
            raise ValueError(f"Label.name must be 1-64 characters without leading/trailing spaces, got {self.name!r}")
        if self.code is not None and not isinstance(self.code, Code):
            raise ValueError(f"Label {self.name!r}: code must be a model_builder.Code")
        if self.colour is not None:
            colour = tuple(self.colour)
            if len(colour) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in colour):
                raise ValueError(f"Label {self.name!r}: colour must be three integers 0-255 (R, G, B)")
            object.__setattr__(self, "colour", colour)
