"""The input of every model: a series as a 3-D array with its geometry and the DICOM attributes asked for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError


def _vector(name: str, value: Any, *, positive: bool = False) -> tuple[float, float, float]:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as e:
        raise InputError(f"Volume.{name}", "must be three numbers") from e
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise InputError(f"Volume.{name}", f"must be three finite numbers, got {value!r}")
    if positive and not np.all(array > 0):
        raise InputError(f"Volume.{name}", f"must be positive (mm), got {value!r}")
    return tuple(float(v) for v in array)  # type: ignore[return-value]


@dataclass(frozen=True)
class Volume:
    """A series in array order (z, y, x); spacing in mm along those axes; origin and direction in patient (LPS) space.

    `direction[i]` is the unit vector, in patient coordinates, along array axis i; `origin` is the centre
    of voxel (0, 0, 0). For CT the values are Hounsfield units (the rescale is already applied).
    `attributes` holds the DICOM attributes the task asked for, by keyword (e.g. "PatientAge").
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    attributes: Mapping[str, Any] = field(default_factory=dict)
    modality: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.array, np.ndarray):
            raise InputError("Volume.array", f"must be a numpy array, got {type(self.array).__name__}")
        if self.array.ndim != 3 or 0 in self.array.shape:
            raise InputError("Volume.array", f"must be a non-empty 3-D array (z, y, x), got shape {self.array.shape}")
        if not (np.issubdtype(self.array.dtype, np.number) or self.array.dtype == bool):
            raise InputError("Volume.array", f"must hold numbers, got dtype {self.array.dtype}")
        object.__setattr__(self, "spacing", _vector("spacing", self.spacing, positive=True))
        object.__setattr__(self, "origin", _vector("origin", self.origin))
        direction = np.asarray(self.direction, dtype=float)
        if direction.shape != (3, 3) or not np.all(np.isfinite(direction)):
            raise InputError("Volume.direction", f"must be a 3x3 matrix, got shape {direction.shape}")
        if not np.allclose(direction @ direction.T, np.eye(3), atol=1e-4):
            raise InputError("Volume.direction", "rows must be orthonormal unit vectors (direction cosines)")
        object.__setattr__(self, "direction", direction)
        if not isinstance(self.attributes, Mapping) or not all(isinstance(k, str) for k in self.attributes):
            raise InputError("Volume.attributes", "must be a mapping from DICOM keyword to value")
        object.__setattr__(self, "attributes", dict(self.attributes))
        if not isinstance(self.modality, str):
            raise InputError("Volume.modality", "must be a DICOM modality code such as 'CT' or 'MR'")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The array's shape, (z, y, x)."""
        return self.array.shape  # type: ignore[return-value]
