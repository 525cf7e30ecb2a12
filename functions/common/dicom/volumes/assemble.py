"""A series' instances (already in memory) as a model's input `Volume`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pydicom import Dataset

from model_builder.volume import Volume

from .attributes import check_keywords, pick
from .errors import NotARegularGrid
from .grid import Layout, layout
from .pixels import stored_frames
from .planes import Plane, planes_of
from .rescale import Images, images_of, stack


def series_layout(datasets: Sequence[Dataset], planes: Sequence[Sequence[Plane]]) -> Layout:
    """Every image of the instances (`planes[i]` those of instance i), checked to be one regular grid and sorted
    along the slice normal."""
    for keyword in ("SeriesInstanceUID", "FrameOfReferenceUID"):
        if len({str(ds.get(keyword, "")) for ds in datasets} - {""}) > 1:
            raise NotARegularGrid("mixed_series", f"the instances differ in {keyword}: pass the instances of one "
                                                  "series, in one frame of reference")
    return layout([plane for of_instance in planes for plane in of_instance])


def build(datasets: Sequence[Dataset], images: Sequence[Images], grid: Layout, *, attributes: Sequence[str] = (),
          restore: Callable[[Dataset], Dataset] = lambda ds: ds, out: np.ndarray | None = None) -> Volume:
    """The Volume of the instances' images rescaled in grid order (into `out` when it fits: `rescale.stack`), the
    asked attributes taken from the first slice once `restore` (the originals, for authorised readers) has been
    applied to it."""
    first = datasets[grid.first.source]
    asked = pick(restore(first), attributes) if attributes else {}
    return Volume(stack(grid, images, out=out), spacing=grid.spacing, origin=grid.origin, direction=grid.direction,
                  attributes=asked, modality=str(first.get("Modality", "") or ""))


def volume_from_datasets(datasets: Sequence[Dataset], *, attributes: Sequence[str] = ()) -> Volume:
    """A series' instances, in any order, as a Volume in the series' units (HU for CT) with its DICOM geometry;
    refuses what is not one regular grid, pixel data it cannot decode, and attributes the series lacks."""
    keywords = check_keywords(attributes)
    planes = [planes_of(ds, source) for source, ds in enumerate(datasets)]
    grid = series_layout(datasets, planes)
    images = [images_of(of_instance, stored_frames(ds)) for ds, of_instance in zip(datasets, planes, strict=True)]
    return build(datasets, images, grid, attributes=keywords)
