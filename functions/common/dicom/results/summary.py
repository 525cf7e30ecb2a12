"""What the viewer's AI panel lists beside the image: per label its volume, score, boxes and points, as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model_builder.labels import Label
from model_builder.outputs import Box, Boxes, ImageOutput, LabelVolume, Output, Point, Points, Scores
from model_builder.volume import Volume

from .coding import check_labels, check_output
from .errors import ResultRefused
from .geometry import to_patient

_KEYS = {LabelVolume: "segments", Scores: "scores", Boxes: "boxes", Points: "points", ImageOutput: "images"}


def summary(labels: Sequence[Label], outputs: Sequence[Output], *, volume: Volume) -> dict[str, Any]:
    """A JSON-able summary of a model's outputs: label volumes in voxels and mL, scores, boxes and points in voxel
    (z, y, x) and patient (LPS mm, x, y, z) coordinates."""
    check_labels(labels)
    if not isinstance(volume, Volume):
        raise ResultRefused("volume must be the model's input Volume")
    if not isinstance(outputs, Sequence):
        raise ResultRefused("outputs must be a list of the model's outputs")
    result: dict[str, Any] = {"labels": [_label(i, label) for i, label in enumerate(labels, start=1)]}
    for output in outputs:
        check_output(output, labels, volume)
        key = _KEYS.get(type(output))
        if key is None:
            raise ResultRefused(f"{type(output).__name__} is not an output kind the summary knows")
        if key in ("segments", "scores") and key in result:
            raise ResultRefused(f"two {type(output).__name__} outputs: a model returns at most one of each")
        if isinstance(output, LabelVolume):
            result[key] = _segments(output, labels, volume)
        elif isinstance(output, Scores):
            result[key] = {label.name: float(output.scores[label.name]) for label in labels}
        elif isinstance(output, Boxes):
            result.setdefault(key, []).extend(_box(box, labels, volume) for box in output.boxes)
        elif isinstance(output, Points):
            result.setdefault(key, []).extend(_point(point, labels, volume) for point in output.points)
        else:
            result.setdefault(key, []).append({"description": output.description})
    return result


def _label(index: int, label: Label) -> dict[str, Any]:
    code = label.code
    return {"index": index, "name": label.name, "colour": list(label.colour) if label.colour else None,
            "code": None if code is None else {"value": code.value, "scheme": code.scheme, "meaning": code.meaning}}


def _segments(output: LabelVolume, labels: Sequence[Label], volume: Volume) -> list[dict[str, Any]]:
    """Per label: voxels and volume in mL (voxels × the voxel's volume in mm³ / 1000), empty labels included."""
    array = output.array
    if len(labels) <= 32:  # a comparison per label beats bincount's conversion of every voxel to intp
        counts = [0] + [int(np.count_nonzero(array == i)) for i in range(1, len(labels) + 1)]
    else:
        counts = np.bincount(array.ravel().astype(np.intp, copy=False), minlength=len(labels) + 1)
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    return [{"label": label.name, "index": i, "voxels": int(counts[i]), "volume_ml": int(counts[i]) * voxel_ml}
            for i, label in enumerate(labels, start=1)]


def _mm(volume: Volume, zyx: Sequence[float]) -> list[float]:
    return [float(v) for v in to_patient(volume, [zyx])[0]]


def _box(box: Box, labels: Sequence[Label], volume: Volume) -> dict[str, Any]:
    centre = [(lo + hi) / 2 for lo, hi in zip(box.start, box.end, strict=True)]
    return {"label": labels[box.label - 1].name, "index": int(box.label), "score": _score(box.score),
            "start": [int(v) for v in box.start], "end": [int(v) for v in box.end],
            "start_mm": _mm(volume, box.start), "end_mm": _mm(volume, box.end), "centre_mm": _mm(volume, centre)}


def _point(point: Point, labels: Sequence[Label], volume: Volume) -> dict[str, Any]:
    return {"label": labels[point.label - 1].name, "index": int(point.label), "score": _score(point.score),
            "position": [float(v) for v in point.position], "position_mm": _mm(volume, point.position)}


def _score(score: float | None) -> float | None:
    return None if score is None else float(score)
