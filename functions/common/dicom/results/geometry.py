"""Does a model's output sit on its source series? The volume's grid against each instance's position, and
voxel indices to patient coordinates.

Every check is one tolerance: a twentieth of the smallest voxel spacing at the far edge of the image, so a
disagreement that would move a label by a visible fraction of a voxel is refused and rounding is not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom import Dataset

from model_builder.volume import Volume

from .errors import ResultRefused

TOLERANCE_VOXELS = 0.05
_IDENTICAL = ("SeriesInstanceUID", "FrameOfReferenceUID", "Rows", "Columns")


def to_patient(volume: Volume, indices: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Voxel indices (N, 3) in (z, y, x) order → patient coordinates (N, 3) in LPS mm (x, y, z)."""
    zyx = np.asarray(indices, dtype=float).reshape(-1, 3)
    return np.asarray(volume.origin) + (zyx * np.asarray(volume.spacing)) @ volume.direction


def source_in_volume_order(source: Sequence[Dataset], shape: tuple[int, ...], volume: Volume) -> list[Dataset]:
    """The source instances in the volume's slice order, refusing any disagreement of shape or geometry."""
    _check_series(source)
    first = source[0]
    if len(source) != shape[0]:
        raise ResultRefused(f"the label volume has {shape[0]} slices; the series has {len(source)}")
    for name, keyword, size in (("rows", "Rows", shape[1]), ("columns", "Columns", shape[2])):
        if int(first[keyword].value) != size:
            raise ResultRefused(f"the label volume has {size} {name}; the series' images have "
                                f"{int(first[keyword].value)} ({keyword})")
    if tuple(volume.shape) != tuple(shape):
        raise ResultRefused(f"the output's shape {tuple(shape)} differs from the input volume's {volume.shape}")
    tolerance = TOLERANCE_VOXELS * min(volume.spacing)
    for ds in source:
        _check_plane(ds, volume, tolerance)
    return _order(source, volume, tolerance)


def _check_series(source: Sequence[Dataset]) -> None:
    if not isinstance(source, Sequence) or not source or not all(isinstance(ds, Dataset) for ds in source):
        raise ResultRefused("source must be the series' instances as pydicom Datasets, at least one")
    for keyword in ("SeriesInstanceUID", "FrameOfReferenceUID", "Rows", "Columns", "ImageOrientationPatient",
                    "PixelSpacing"):
        values = {_text(ds, keyword) for ds in source}
        if "" in values:
            raise ResultRefused(f"an instance of the source series has no {keyword}: results need a series of "
                                "single-frame CT or MR images with patient geometry")
        if len(values) > 1 and keyword in _IDENTICAL:  # orientation and spacing: numbers, checked per instance
            raise ResultRefused(f"the source instances differ in {keyword} ({len(values)} values): pass the "
                                "instances of one series with one orientation and size")
    for ds in source:
        if int(ds.get("NumberOfFrames", 1) or 1) != 1 or "ImagePositionPatient" not in ds:
            raise ResultRefused(f"instance {ds.get('InstanceNumber', '?')} is multi-frame or has no "
                                "ImagePositionPatient: results need single-frame images")


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value)


def _check_plane(ds: Dataset, volume: Volume, tolerance: float) -> None:
    """ImageOrientationPatient and PixelSpacing against the volume's y and x axes."""
    name = f"instance {ds.get('InstanceNumber', '?')}"
    rows, columns = int(ds.Rows), int(ds.Columns)
    orientation = np.asarray([float(v) for v in ds.ImageOrientationPatient])
    along_row, along_column = orientation[:3], orientation[3:]  # the x axis (columns grow), the y axis (rows grow)
    for along, cosines, axis, extent in (("row", along_row, 2, columns), ("column", along_column, 1, rows)):
        drift = float(np.max(np.abs(cosines - volume.direction[axis]))) * volume.spacing[axis] * (extent - 1)
        if drift > tolerance:
            raise ResultRefused(f"{name}: ImageOrientationPatient's {along} direction {_fmt(cosines)} differs from "
                                f"the volume's {'zyx'[axis]} axis {_fmt(volume.direction[axis])}: build the volume "
                                "from this series without reorienting it")
    spacing = [float(v) for v in ds.PixelSpacing]  # between rows (y), between columns (x)
    for value, axis, extent in ((spacing[0], 1, rows), (spacing[1], 2, columns)):
        if abs(value - volume.spacing[axis]) * (extent - 1) > tolerance:
            raise ResultRefused(f"{name}: PixelSpacing {spacing[0]:g}\\{spacing[1]:g} mm differs from the volume's "
                                f"in-plane spacing {volume.spacing[1]:g} × {volume.spacing[2]:g} mm (y, x): "
                                "resample the output back onto the series' grid")


def _order(source: Sequence[Dataset], volume: Volume, tolerance: float) -> list[Dataset]:
    """Place each instance on the volume's slice grid; every slice gets exactly one instance."""
    origin, normal, step = np.asarray(volume.origin), volume.direction[0], volume.spacing[0]
    slices: list[Dataset | None] = [None] * len(source)
    for ds in source:
        offset = np.asarray([float(v) for v in ds.ImagePositionPatient]) - origin
        along = float(offset @ normal)
        index = round(along / step)
        sideways = float(np.linalg.norm(offset - along * normal))
        name = f"instance {ds.get('InstanceNumber', '?')}"
        if sideways > tolerance:
            raise ResultRefused(f"{name}'s ImagePositionPatient is {sideways:.3g} mm off the volume's origin "
                                f"{_fmt(origin)} across the slice axis: the volume's origin must be the first "
                                "slice's ImagePositionPatient")
        if abs(along - index * step) > tolerance or not 0 <= index < len(slices):
            raise ResultRefused(f"{name} lies {along:.4g} mm along the volume's slice axis, not on one of its "
                                f"{len(slices)} slices (0 to {(len(slices) - 1) * step:.4g} mm, every {step:g} mm): "
                                "the volume's origin, slice spacing or direction differs from the series")
        if slices[index] is not None:
            raise ResultRefused(f"{name} and instance {slices[index].get('InstanceNumber', '?')} both lie on "
                                f"slice {index} of the volume: a series with two images at one position is "
                                "not one volume")
        slices[index] = ds
    return slices  # type: ignore[return-value]  # the count equals the slices' and none is twice: all filled


def _fmt(vector: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in vector) + ")"
