"""What a model returns; each output checks itself against the input before the platform turns it into DICOM."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import OutputError
from .labels import Label
from .volume import Volume


def _check_label_index(output: str, index: int, labels: Sequence[Label]) -> None:
    if not isinstance(index, (int, np.integer)) or not 1 <= index <= len(labels):
        raise OutputError(output, f"label {index!r} is not a label index of the task: use 1..{len(labels)}"
                          " (the position of the label in InferTask.labels, counting from 1)")


def _check_score(output: str, score: float | None) -> None:
    if score is not None and not (isinstance(score, numbers.Real) and math.isfinite(score) and 0 <= score <= 1):
        raise OutputError(output, f"score {score!r} must be a probability between 0 and 1")


class Output:
    """Base of every output kind."""

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        """Raise `OutputError` if the output does not fit the input volume and the task's labels."""
        raise NotImplementedError


@dataclass(frozen=True)
class LabelVolume(Output):
    """A label map with the input's shape: 0 is background, i is the i-th label of the task (from 1)."""

    array: np.ndarray

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        if not isinstance(self.array, np.ndarray):
            raise OutputError("LabelVolume", f"array must be a numpy array, got {type(self.array).__name__}")
        if self.array.shape != volume.shape:
            raise OutputError("LabelVolume", f"shape {self.array.shape} differs from the input's {volume.shape};"
                              " resample the labels back onto the input grid")
        if not (np.issubdtype(self.array.dtype, np.integer) or self.array.dtype == bool):
            raise OutputError("LabelVolume", f"dtype {self.array.dtype} is not an integer type;"
                              " convert with array.astype(np.uint8) after argmax or thresholding")
        if self.array.size and (int(self.array.min()) < 0 or int(self.array.max()) > len(labels)):
            raise OutputError("LabelVolume", f"values span {int(self.array.min())}..{int(self.array.max())} but the"
                              f" task has {len(labels)} label(s): use 0 for background and 1..{len(labels)}")


@dataclass(frozen=True)
class Scores(Output):
    """A probability per label name of the task (classification)."""

    scores: Mapping[str, float]

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        names = [label.name for label in labels]
        if not isinstance(self.scores, Mapping):
            raise OutputError("Scores", "scores must be a mapping from label name to probability")
        unknown = sorted(set(self.scores) - set(names))
        missing = [n for n in names if n not in self.scores]
        if unknown or missing:
            raise OutputError("Scores", f"give one score per label of the task {names};"
                              f" unknown: {unknown}, missing: {missing}")
        for name, score in self.scores.items():
            _check_score(f"Scores[{name!r}]", score)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in voxel indices, `start` and `end` inclusive, (z, y, x)."""

    label: int
    start: tuple[int, int, int]
    end: tuple[int, int, int]
    score: float | None = None


@dataclass(frozen=True)
class Boxes(Output):
    """Detected objects (detection)."""

    boxes: Sequence[Box] = field(default_factory=tuple)

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        for i, box in enumerate(self.boxes):
            name = f"Boxes[{i}]"
            if not isinstance(box, Box):
                raise OutputError(name, f"must be a model_builder.Box, got {type(box).__name__}")
            _check_label_index(name, box.label, labels)
            _check_score(name, box.score)
            if len(box.start) != 3 or len(box.end) != 3:
                raise OutputError(name, "start and end must be (z, y, x) voxel indices")
            for axis, (lo, hi, size) in enumerate(zip(box.start, box.end, volume.shape, strict=True)):
                if not 0 <= lo <= hi < size:
                    raise OutputError(name, f"axis {'zyx'[axis]}: {lo}..{hi} is not inside 0..{size - 1}"
                                      " with start <= end")


@dataclass(frozen=True)
class Point:
    """A landmark at a voxel position (z, y, x), fractional positions allowed."""

    label: int
    position: tuple[float, float, float]
    score: float | None = None


@dataclass(frozen=True)
class Points(Output):
    """Located landmarks (localisation)."""

    points: Sequence[Point] = field(default_factory=tuple)

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        for i, point in enumerate(self.points):
            name = f"Points[{i}]"
            if not isinstance(point, Point):
                raise OutputError(name, f"must be a model_builder.Point, got {type(point).__name__}")
            _check_label_index(name, point.label, labels)
            _check_score(name, point.score)
            if len(point.position) != 3:
                raise OutputError(name, "position must be (z, y, x) voxel coordinates")
            for axis, (value, size) in enumerate(zip(point.position, volume.shape, strict=True)):
                if not (math.isfinite(value) and -0.5 <= value <= size - 0.5):
                    raise OutputError(name, f"axis {'zyx'[axis]}: {value} is outside the volume (0..{size - 1})")


@dataclass(frozen=True)
class ImageOutput(Output):
    """A derived image on the input's grid (processing), e.g. a denoised series."""

    array: np.ndarray
    description: str = ""

    def validate(self, volume: Volume, labels: Sequence[Label]) -> None:
        if not isinstance(self.array, np.ndarray):
            raise OutputError("ImageOutput", f"array must be a numpy array, got {type(self.array).__name__}")
        if self.array.shape != volume.shape:
            raise OutputError("ImageOutput", f"shape {self.array.shape} differs from the input's {volume.shape};"
                              " resample the image back onto the input grid")
        if not np.issubdtype(self.array.dtype, np.number):
            raise OutputError("ImageOutput", f"dtype {self.array.dtype} is not numeric")
        if not np.all(np.isfinite(self.array)):
            raise OutputError("ImageOutput", "holds NaN or infinite values")
