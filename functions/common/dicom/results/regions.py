"""Where a box or a point lies on the series' images: the image (slice) it is drawn on and its pixel coordinates.

DICOM SR pixel coordinates (SCOORD, PS3.3 C.18.6.1.1) are (column, row) with (0, 0) at the top left corner of the
top left pixel, so voxel (y, x) spans [x, x + 1] × [y, y + 1] and its centre is (x + 0.5, y + 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset

from model_builder.outputs import Box, Point


@dataclass(frozen=True)
class Region:
    """A finding's 2-D region: the slice index it is drawn on, that slice's instance, and (column, row) pixels."""

    slice: int
    image: Dataset
    graphic_type: str  # "POLYLINE" | "POINT"
    pixels: np.ndarray  # (N, 2) float32 (column, row)


def box_region(box: Box, ordered: Sequence[Dataset]) -> Region:
    """The box's outline on its centre slice around the outer edges of its voxels: a closed 5-point polyline."""
    z = (box.start[0] + box.end[0]) // 2  # a slice of the series, so a viewer finds an image holding the outline
    (y0, x0), (y1, x1) = box.start[1:], (box.end[1] + 1, box.end[2] + 1)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]  # top left, clockwise on screen, closed
    return Region(z, ordered[z], "POLYLINE", np.asarray(corners, dtype=np.float32))


def point_region(point: Point, ordered: Sequence[Dataset]) -> Region:
    """The point at its voxel's centre on the nearest slice (a point between two slices is drawn on the nearer)."""
    z, y, x = (float(v) for v in point.position)
    index = min(max(math.floor(z + 0.5), 0), len(ordered) - 1)
    return Region(index, ordered[index], "POINT", np.asarray([(x + 0.5, y + 0.5)], dtype=np.float32))
