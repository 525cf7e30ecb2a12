"""A series as a model's input `Volume`: from instances in memory (`volume_from_datasets`) or from the
archive for a study its caller may read (`read_series`)."""

from .assemble import volume_from_datasets
from .errors import (
    CannotDecode,
    MissingAttributes,
    NotARegularGrid,
    SeriesUnreadable,
    UnknownAttributes,
    VolumeRefused,
)
from .reading import SeriesRead, Timings, read_series

__all__ = ["CannotDecode", "MissingAttributes", "NotARegularGrid", "SeriesRead", "SeriesUnreadable", "Timings",
           "UnknownAttributes", "VolumeRefused", "read_series", "volume_from_datasets"]
