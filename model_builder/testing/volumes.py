"""Synthetic series for tests and benchmarks."""

from __future__ import annotations

import numpy as np

from ..volume import Volume


def synthetic_ct(shape: tuple[int, int, int] = (6, 24, 24), dtype: type = np.int16) -> Volume:
    """A CT in HU: air around an ellipse of soft tissue with a lung-like hole, and a table line apart from it."""
    _, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    cy, cx = shape[1] / 2, shape[2] / 2
    body = ((y - cy) / (shape[1] * 0.35)) ** 2 + ((x - cx) / (shape[2] * 0.4)) ** 2 <= 1
    hole = ((y - cy) / (shape[1] * 0.1)) ** 2 + ((x - cx) / (shape[2] * 0.1)) ** 2 <= 1
    array = np.broadcast_to(np.where(body & ~hole, 40, -1000), shape).astype(dtype)
    array[:, -1, :] = 200  # the table, not connected to the body
    return Volume(array, spacing=(2.5, 0.7, 0.7), origin=(-120.0, -90.5, 33.0), modality="CT",
                  attributes={"PatientAge": "054Y"})
