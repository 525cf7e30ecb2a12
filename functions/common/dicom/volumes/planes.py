"""The 2-D images of a series with their geometry and rescale: one per single-frame instance, one per frame of
an enhanced multi-frame instance (its functional groups: per-frame, else shared, else the top level)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom import Dataset

from .errors import NotARegularGrid


@dataclass(frozen=True)
class Plane:
    """One image: where its first pixel lies, its grid and rescale, and which frame of which instance it is."""

    position: np.ndarray          # ImagePositionPatient: the centre of the first pixel, LPS mm
    orientation: np.ndarray       # ImageOrientationPatient: the row direction, then the column direction
    rows: int
    columns: int
    pixel_spacing: tuple[float, float]  # between rows (along the column direction), between columns
    slope: float
    intercept: float
    source: int                   # index of the instance among those given
    frame: int                    # index of the frame within it

    @property
    def label(self) -> str:
        """How a message names the image: instance k (counting from 1), and its frame when multi-frame."""
        return f"instance {self.source + 1}" + (f" frame {self.frame + 1}" if self.frame else "")


def _numbers(value: Any, count: int, keyword: str, where: str) -> np.ndarray:
    try:
        array = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise NotARegularGrid("no_geometry", f"{where} has no valid {keyword} ({count} numbers): models need "
                                             "images with patient geometry (CT, MR, PET slices)")
    return array


def _group_item(groups: list[Dataset], sequence: str) -> Dataset | None:
    """The first item of `sequence` in the first functional group (per-frame, then shared) that has it."""
    for group in groups:
        if group is not None and sequence in group and len(group[sequence].value):
            return group[sequence].value[0]
    return None


def _frame_planes(ds: Dataset, source: int) -> list[Plane]:
    """The frames of an enhanced multi-frame instance, each with its own position and rescale."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence", []))
    shared = ds.get("SharedFunctionalGroupsSequence", [None])[0] if "SharedFunctionalGroupsSequence" in ds else None
    if len(per_frame) != frames:
        raise NotARegularGrid("no_geometry", f"instance {source + 1} has {frames} frames but "
                                             f"{len(per_frame)} PerFrameFunctionalGroupsSequence items: only "
                                             "enhanced multi-frame images say where each frame lies")
    planes = []
    for frame, group in enumerate(per_frame):
        groups = [group, shared]
        where = f"instance {source + 1} frame {frame + 1}"
        position = _group_item(groups, "PlanePositionSequence")
        orientation = _group_item(groups, "PlaneOrientationSequence")
        measures = _group_item(groups, "PixelMeasuresSequence")
        rescale = _group_item(groups, "PixelValueTransformationSequence") or ds
        planes.append(Plane(
            _numbers(position.get("ImagePositionPatient") if position else None, 3, "ImagePositionPatient", where),
            _numbers(orientation.get("ImageOrientationPatient") if orientation else None, 6,
                     "ImageOrientationPatient", where),
            int(ds.Rows), int(ds.Columns),
            tuple(_numbers(measures.get("PixelSpacing") if measures else None, 2, "PixelSpacing", where)),
            float(rescale.get("RescaleSlope", 1) or 1), float(rescale.get("RescaleIntercept", 0) or 0),
            source, frame))
    return planes


def planes_of(ds: Dataset, source: int) -> list[Plane]:
    """The images of one instance, in frame order."""
    for keyword in ("Rows", "Columns"):
        if keyword not in ds:
            raise NotARegularGrid("no_geometry", f"instance {source + 1} has no {keyword}: it is not an image")
    if "PerFrameFunctionalGroupsSequence" in ds or int(ds.get("NumberOfFrames", 1) or 1) > 1:
        return _frame_planes(ds, source)
    where = f"instance {source + 1}"
    return [Plane(_numbers(ds.get("ImagePositionPatient"), 3, "ImagePositionPatient", where),
                  _numbers(ds.get("ImageOrientationPatient"), 6, "ImageOrientationPatient", where),
                  int(ds.Rows), int(ds.Columns),
                  tuple(_numbers(ds.get("PixelSpacing"), 2, "PixelSpacing", where)),  # type: ignore[arg-type]
                  float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0), source, 0)]
