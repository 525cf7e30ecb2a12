"""Stored values to the series' units (HU for CT), written straight into the volume: one array the size of the
volume and one pass over each image, whatever the instances' order.

The volume is int16 when every image's slope and intercept are integers and its rescaled values fit (CT in HU),
float32 otherwise (exact for the images that would fit int16)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .grid import Layout
from .planes import Plane

INT16 = (-32768, 32767)


@dataclass(frozen=True)
class Images:
    """One instance's images before the rescale: their planes, stored values (frames, rows, columns) and each
    frame's lowest and highest stored value (which decide the volume's dtype)."""

    planes: list[Plane]
    stored: np.ndarray
    lows: list[int]
    highs: list[int]


def images_of(planes: list[Plane], stored: np.ndarray) -> Images:
    """An instance's images with the value range of each frame."""
    lows, highs = stored.min(axis=(1, 2)), stored.max(axis=(1, 2))
    return Images(planes, stored, [int(v) for v in lows], [int(v) for v in highs])


def _fits(*values: float) -> bool:
    return all(INT16[0] <= v <= INT16[1] for v in values)


def _integral_fit(plane: Plane, low: int, high: int) -> bool:
    """Whether the image's rescaled values are integers that fit int16."""
    slope, intercept = plane.slope, plane.intercept
    return (slope.is_integer() and intercept.is_integer()
            and _fits(low * slope + intercept, high * slope + intercept))


def _rescale_int16(out: np.ndarray, image: np.ndarray, plane: Plane, low: int, high: int) -> None:
    if plane.slope == 1 and _fits(low, high, plane.intercept):
        # The common CT case: one pass of int16 additions (stored values and results both fit int16, so an
        # unsigned image is read as signed without changing a value).
        same = image.view(np.int16) if image.dtype == np.uint16 else image
        np.add(same, np.int16(plane.intercept), out=out, casting="unsafe")
    else:
        np.copyto(out, image.astype(np.int32) * int(plane.slope) + int(plane.intercept), casting="unsafe")


def _rescale_float32(out: np.ndarray, image: np.ndarray, plane: Plane) -> None:
    np.multiply(image, np.float32(plane.slope), out=out, dtype=np.float32, casting="unsafe")
    out += np.float32(plane.intercept)


def likely_dtype(plane: Plane) -> np.dtype:
    """The volume's dtype as the first image's rescale foretells it (`stack` decides from every image)."""
    return np.dtype(np.int16 if plane.slope.is_integer() and plane.intercept.is_integer() else np.float32)


def touched(shape: tuple[int, int, int], dtype: np.dtype) -> np.ndarray:
    """An array for `stack` with its memory already mapped in: the kernel's first touch of a CT's 105 MB costs
    0.02-0.25 s here (measured), which a pool thread spends on the other core while the files come."""
    out = np.empty(shape, dtype=dtype)
    out.fill(0)  # numpy releases the GIL meanwhile
    return out


def stack(grid: Layout, images: Sequence[Images], *, out: np.ndarray | None = None) -> np.ndarray:
    """The volume in grid order from `images[i]`, instance i's: each frame rescaled straight into its slice, in
    `out` when it has the volume's shape and dtype (`touched`)."""
    frames = [(images[p.source], p.frame) for p in grid.planes]
    integral = all(_integral_fit(p, of.lows[f], of.highs[f]) for p, (of, f) in zip(grid.planes, frames, strict=True))
    first = grid.first
    shape, dtype = (len(frames), first.rows, first.columns), np.dtype(np.int16 if integral else np.float32)
    volume = out if out is not None and out.shape == shape and out.dtype == dtype else np.empty(shape, dtype)
    for k, (plane, (of, f)) in enumerate(zip(grid.planes, frames, strict=True)):
        if integral:
            _rescale_int16(volume[k], of.stored[f], plane, of.lows[f], of.highs[f])
        else:
            _rescale_float32(volume[k], of.stored[f], plane)
    return volume
