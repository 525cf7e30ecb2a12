"""Synthetic CT cases with their true masks, from the platform's own chest phantom (local-dev/mcc_local).

The samples train and test on these: `training_case(seed)` varies the patient (size, position on the table,
covered height), the grid (matrix, field of view, slices, thickness) and the noise; `dicomgen_case(seed)`
goes through `mcc_local.dicomgen.ct_series` and back, as a series the platform stores. The truth comes from
the noise-free phantom, whose structures have distinct values: the heart is the 45-HU region in front of
y = 25 mm (the descending aorta, also 45 HU, lies behind it) and bone is everything from 800 HU up.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_builder import Volume

_LOCAL_DEV = Path(__file__).resolve().parents[2] / "local-dev"
if str(_LOCAL_DEV) not in sys.path:
    sys.path.append(str(_LOCAL_DEV))

from mcc_local.phantoms import ct_hounsfield  # noqa: E402  (local-dev is not an installed package)

HEART_HU = 45.0
HEART_MAX_Y_MM = 25.0  # the heart spans y -80..10 mm, the aorta 37..63 mm (phantom frame, LPS)
BONE_MIN_HU = 800.0
# Array axes (z, y, x) of an axial series in LPS: z towards the head, y posterior, x to the patient's left.
AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class _Silent:
    """A stand-in for the phantom's random generator that adds no noise: the phantom's values are the truth."""

    def standard_normal(self, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)


@dataclass(frozen=True)
class Case:
    """A CT volume in HU, (z, y, x) with its geometry, and the true masks of the structures on the same grid."""

    volume: Volume
    masks: dict[str, np.ndarray]


def _masks(clean: np.ndarray, phantom_ys: np.ndarray) -> dict[str, np.ndarray]:
    heart = (clean == HEART_HU) & (phantom_ys[None, :, None] < HEART_MAX_Y_MM)
    return {"heart": heart, "bone": clean >= BONE_MIN_HU}


def phantom_case(seed: int, *, slices: int, rows: int, columns: int, fov_mm: float, slice_thickness: float,
                 scale: float = 1.0, shift_mm: tuple[float, float] = (0.0, 0.0),
                 heights: tuple[float, float] = (0.0, 1.0), extra_noise_hu: float = 0.0) -> Case:
    """A phantom CT: a patient `scale` times the phantom's size, shifted by (x, y) mm, covering `heights`."""
    spacing = fov_mm / max(rows, columns)
    xs = -(columns - 1) / 2 * spacing + spacing * np.arange(columns)
    ys = -(rows - 1) / 2 * spacing + spacing * np.arange(rows)
    phantom_xs, phantom_ys = (xs - shift_mm[0]) / scale, (ys - shift_mm[1]) / scale
    ts = np.linspace(heights[0], heights[1], slices) if slices > 1 else np.array([0.5])
    rng = np.random.default_rng(seed)
    noisy = np.stack([ct_hounsfield(phantom_xs, phantom_ys, float(t), rng) for t in ts])
    if extra_noise_hu > 0:
        noisy += rng.standard_normal(noisy.shape, dtype=np.float32) * np.float32(extra_noise_hu)
    clean = np.stack([ct_hounsfield(phantom_xs, phantom_ys, float(t), _Silent()) for t in ts])
    z0 = -(slices - 1) / 2 * slice_thickness
    volume = Volume(np.clip(np.rint(noisy), -1024, 3071).astype(np.int16), spacing=(slice_thickness, spacing, spacing),
                    origin=(float(xs[0]), float(ys[0]), z0), direction=AXIAL, modality="CT")
    return Case(volume, _masks(clean, phantom_ys))


def training_case(seed: int) -> Case:
    """A case drawn from `seed`: patient size and position, covered height, matrix, field of view, slices, noise."""
    draw = np.random.default_rng([seed, 1])
    rows = int(draw.choice([128, 160, 192, 256]))
    return phantom_case(
        seed, slices=int(draw.integers(32, 97)), rows=rows, columns=rows, fov_mm=float(draw.uniform(340, 480)),
        slice_thickness=float(draw.choice([1.5, 2.0, 2.5, 3.0, 5.0])), scale=float(draw.uniform(0.85, 1.15)),
        shift_mm=(float(draw.uniform(-20, 20)), float(draw.uniform(-20, 20))),
        heights=(float(draw.uniform(-0.1, 0.1)), float(draw.uniform(0.9, 1.1))),
        extra_noise_hu=float(draw.uniform(0, 8)))


def dicomgen_case(seed: int, *, slices: int = 64, rows: int = 256, columns: int = 256) -> Case:
    """A series as the platform generates it (`mcc_local.dicomgen.ct_series`), read back into a `Volume`."""
    from mcc_local.dicomgen import Patient, ct_series

    datasets = sorted(ct_series(Patient(), slices=slices, rows=rows, columns=columns, seed=seed),
                      key=lambda ds: float(ds.ImagePositionPatient[2]))
    volume = volume_from_datasets(datasets)
    first = datasets[0]
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    xs = float(first.ImagePositionPatient[0]) + column_spacing * np.arange(columns)
    ys = float(first.ImagePositionPatient[1]) + row_spacing * np.arange(rows)
    ts = np.arange(slices) / (slices - 1) if slices > 1 else np.array([0.5])  # dicomgen's relative heights
    clean = np.stack([ct_hounsfield(xs, ys, float(t), _Silent()) for t in ts])
    return Case(volume, _masks(clean, ys))


def volume_from_datasets(datasets: list) -> Volume:
    """An axial series' instances (sorted along their normal) as a `Volume` in HU with the DICOM geometry."""
    first, last = datasets[0], datasets[-1]
    orientation = np.asarray(first.ImageOrientationPatient, dtype=float)
    row_dir, column_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, column_dir)
    positions = [np.asarray(ds.ImagePositionPatient, dtype=float) for ds in (first, last)]
    step = float(np.dot(positions[1] - positions[0], normal)) / max(len(datasets) - 1, 1)
    array = np.stack([ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
                      for ds in datasets])
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    return Volume(array, spacing=(abs(step) or float(first.SliceThickness), row_spacing, column_spacing),
                  origin=tuple(positions[0]), direction=np.stack([normal * np.sign(step or 1), column_dir, row_dir]),
                  modality=str(first.Modality))


def dice(found: np.ndarray, truth: np.ndarray) -> float:
    """The Dice overlap of two masks (1 when both are empty)."""
    total = int(found.sum()) + int(truth.sum())
    return 2.0 * int(np.logical_and(found, truth).sum()) / total if total else 1.0
