"""The anatomy of the generated series: a chest in Hounsfield units and a T1-weighted head, slice by slice.

Each phantom maps patient coordinates (LPS, mm) at a relative height through the series to image values,
with structures that grow and shrink from slice to slice, so a viewer shows something recognisable.
`mcc_local.dicomgen` wraps them in DICOM.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CT_LANDMARKS_MM", "MR_LANDMARKS_MM", "ct_hounsfield", "mr_t1_signal"]

# Where structures sit in patient coordinates (LPS, mm) on the middle slices of a series; tests sample here.
CT_LANDMARKS_MM: dict[str, tuple[float, float]] = {
    "air": (0.0, -180.0),
    "fat": (0.0, -109.0),
    "soft_tissue": (0.0, -90.0),
    "right_lung": (-85.0, 0.0),
    "left_lung": (85.0, 0.0),
    "vertebra": (0.0, 80.0),
}
MR_LANDMARKS_MM: dict[str, tuple[float, float]] = {
    "background": (0.0, -115.0),
    "white_matter": (-30.0, 20.0),
    "ventricle": (12.0, -5.0),
}


def ct_hounsfield(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    """An axial chest at height t (0 = most inferior slice, 1 = most superior) over the grid xs × ys (mm), in HU:
    body, subcutaneous fat, lungs, heart, liver, aorta, ribs and spine."""
    hu = np.full((len(ys), len(xs)), -1000.0, dtype=np.float32)

    def fill(centre: tuple[float, float], semi_axes: tuple[float, float], value: float) -> None:
        _fill(hu, xs, ys, centre, semi_axes, value)

    fill((0, 10), (170, 125), -100)  # subcutaneous fat
    fill((0, 10), (158, 113), 40)  # muscle and mediastinum
    liver = _profile(t, 0.1, 0.3)
    fill((-70, -10), (80 * liver, 70 * liver), 60)
    lungs = _profile(t, 0.62, 0.4)
    for side in (-1, 1):
        fill((85 * side, 0), (55 * lungs, 80 * lungs), -850)
    heart = _profile(t, 0.45, 0.22)
    fill((25, -35), (55 * heart, 45 * heart), 45)
    fill((20, 50), (13, 13), 45)  # descending aorta
    if lungs > 0:
        for angle in (200, 220, 240, 300, 320, 340, 20, 40, 140, 160):  # rib cross-sections
            theta = math.radians(angle)
            fill((150 * math.cos(theta), 10 + 105 * math.sin(theta)), (5, 5), 900)
    fill((0, 80), (18, 18), 1300)  # vertebral body: cortex ...
    fill((0, 80), (15, 15), 800)  # ... around cancellous bone
    fill((0, 108), (7, 7), 15)  # spinal canal
    fill((0, 122), (4, 9), 1000)  # spinous process
    hu += rng.standard_normal(hu.shape, dtype=np.float32) * 8.0
    return hu


def mr_t1_signal(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    """An axial T1-weighted head at height t over the grid xs × ys (mm), as magnitude signal: scalp, skull, CSF,
    grey and white matter, ventricles and orbits."""
    signal = np.zeros((len(ys), len(xs)), dtype=np.float32)

    def fill(centre: tuple[float, float], semi_axes: tuple[float, float], value: float) -> None:
        _fill(signal, xs, ys, centre, semi_axes, value)

    head = _profile(t, 0.4, 0.75)
    ax, ay = 72 * head, 92 * head
    for shrink, value in ((0, 900), (5, 60), (11, 250), (13, 560), (20, 780)):  # scalp, skull, CSF, grey, white
        fill((0, 0), (ax - shrink, ay - shrink), value)
    ventricles = _profile(t, 0.55, 0.2)
    for side in (-1, 1):
        fill((12 * side, -5), (6 * ventricles, 22 * ventricles), 250)
    orbits = _profile(t, 0.0, 0.2)
    for side in (-1, 1):
        fill((32 * side, -70), (12 * orbits, 12 * orbits), 150)
    signal += rng.standard_normal(signal.shape, dtype=np.float32) * 15.0
    return np.abs(signal)  # magnitude images: Rician background


def _fill(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, centre: tuple[float, float],
          semi_axes: tuple[float, float], value: float) -> None:
    """Set value inside an axis-aligned ellipse (mm), touching only its bounding box: 200 slices stay fast."""
    (cx, cy), (ax, ay) = centre, semi_axes
    if ax <= 0 or ay <= 0:
        return
    c0, c1 = np.searchsorted(xs, cx - ax), np.searchsorted(xs, cx + ax, side="right")
    r0, r1 = np.searchsorted(ys, cy - ay), np.searchsorted(ys, cy + ay, side="right")
    inside = ((xs[None, c0:c1] - cx) / ax) ** 2 + ((ys[r0:r1, None] - cy) / ay) ** 2 <= 1.0
    image[r0:r1, c0:c1][inside] = value


def _profile(t: float, centre: float, half_width: float) -> float:
    """How large a structure is at relative height t: 1 at its centre, 0 beyond half_width."""
    return math.sqrt(max(0.0, 1.0 - ((t - centre) / half_width) ** 2))
