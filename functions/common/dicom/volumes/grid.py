"""One regular grid from a series' images: checked (one orientation, size and pixel spacing; slices evenly
spaced along the normal, none missing, none shifted sideways) and sorted along the slice normal (`rescale.stack`
then fills it).

Array axes are (z, y, x): z runs along the slice normal (row direction × column direction), y down the
rows of an image (ImageOrientationPatient's column direction, PixelSpacing[0] apart), x along a row (its
row direction, PixelSpacing[1] apart). Pixel (r, c) of the k-th sorted slice lies at
origin + k·Δz·normal + r·Δy·column direction + c·Δx·row direction, which is DICOM's own formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import NotARegularGrid
from .planes import Plane

TOLERANCE = 0.1  # of the slice spacing along the normal, of the smallest pixel spacing sideways
DIRECTION_TOLERANCE = 1e-4  # of a direction cosine, between the images and for unit length and orthogonality


@dataclass(frozen=True)
class Layout:
    """The planes in volume order and the grid they make, in the `Volume`'s conventions."""

    planes: list[Plane]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray

    @property
    def first(self) -> Plane:
        return self.planes[0]


def _same(planes: Sequence[Plane]) -> None:
    first = planes[0]
    row, column = first.orientation[:3], first.orientation[3:]
    if (abs(np.linalg.norm(row) - 1) > 1e-3 or abs(np.linalg.norm(column) - 1) > 1e-3
            or abs(float(row @ column)) > 1e-3):
        raise NotARegularGrid("bad_orientation", f"{first.label}'s ImageOrientationPatient is not two orthogonal "
                                                 "unit vectors")
    for plane in planes[1:]:
        if not np.allclose(plane.orientation, first.orientation, atol=DIRECTION_TOLERANCE):
            raise NotARegularGrid("mixed_orientation", f"{plane.label}'s ImageOrientationPatient differs from "
                                                       f"{first.label}'s: a volume has one orientation; split "
                                                       "the series (e.g. a localizer) before running the model")
        if (plane.rows, plane.columns) != (first.rows, first.columns):
            raise NotARegularGrid("mixed_size", f"{plane.label} is {plane.rows}×{plane.columns} pixels, "
                                                f"{first.label} {first.rows}×{first.columns}")
        if not np.allclose(plane.pixel_spacing, first.pixel_spacing, rtol=1e-3, atol=1e-4):
            raise NotARegularGrid("mixed_spacing", f"{plane.label}'s PixelSpacing {list(plane.pixel_spacing)} "
                                                   f"differs from {first.label}'s {list(first.pixel_spacing)}")


def _check_steps(planes: list[Plane], heights: np.ndarray) -> None:
    """Evenly spaced along the normal: no two at one height, no gap (a missing slice), no uneven step."""
    steps = np.diff(heights)
    typical = float(np.median(steps))
    for k, step in enumerate(steps):
        a, b = planes[k], planes[k + 1]
        if step <= max(TOLERANCE * typical, 1e-3):
            raise NotARegularGrid("duplicate_position", f"{a.label} and {b.label} lie at the same position "
                                                        f"({heights[k]:.3f} mm along the normal): one series "
                                                        "holds several acquisitions; choose one")
        if abs(step - typical) > TOLERANCE * typical:
            missing = round(step / typical) - 1
            if missing >= 1 and abs(step - (missing + 1) * typical) <= TOLERANCE * typical:
                raise NotARegularGrid("missing_slice", f"{missing} slice(s) missing between {a.label} and "
                                                       f"{b.label} ({step:.3f} mm apart, the series' slice "
                                                       f"spacing is {typical:.3f} mm): store the whole series")
            raise NotARegularGrid("irregular_spacing", f"{a.label} and {b.label} are {step:.3f} mm apart, the "
                                                       f"series' slice spacing is {typical:.3f} mm")


def layout(planes: Sequence[Plane]) -> Layout:
    """The planes sorted along the slice normal and the grid's spacing, origin and direction; refuses any
    series that is not one regular grid (`NotARegularGrid` says what is wrong and where)."""
    if not planes:
        raise NotARegularGrid("empty", "it has no images")
    _same(planes)
    first = planes[0]
    row, column = first.orientation[:3], first.orientation[3:]
    normal = np.cross(row, column)
    normal /= np.linalg.norm(normal)
    heights = np.array([float(p.position @ normal) for p in planes])
    order = np.argsort(heights, kind="stable")
    ordered, heights = [planes[i] for i in order], heights[order]
    row_spacing, column_spacing = ordered[0].pixel_spacing
    if len(ordered) > 1:
        _check_steps(ordered, heights)
        slice_spacing = float(heights[-1] - heights[0]) / (len(ordered) - 1)
    else:
        slice_spacing = 1.0  # one slice: no spacing to measure; 1 mm keeps the geometry valid
    start = ordered[0].position
    sideways = TOLERANCE * min(row_spacing, column_spacing)
    for plane, height in zip(ordered, heights, strict=True):
        shift = plane.position - start - (height - heights[0]) * normal
        if float(np.linalg.norm(shift)) > sideways:
            raise NotARegularGrid("tilted", f"{plane.label} is shifted {np.linalg.norm(shift):.3f} mm sideways "
                                            "from the stack (gantry tilt or a sheared series): resample it to an "
                                            "orthogonal grid first")
    return Layout(ordered, (slice_spacing, row_spacing, column_spacing), tuple(float(v) for v in start),
                  np.stack([normal, column, row]))

