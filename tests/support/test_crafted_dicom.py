"""Tests for the crafted DICOM instances: valid variants show their slice, crafted ones leave it untouched."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom.pixels import apply_color_lut

from tests.support.crafted_dicom import CRAFTED_DATASETS, palette_slice, rle_slice


@pytest.fixture(scope="module")
def base() -> pydicom.Dataset:
    """The middle slice of a generated CT, where the chest is widest."""
    series = ct_series(Patient(), slices=16, rows=128, columns=128)
    return series[len(series) // 2]


def test_palette_and_rle_variants_show_the_same_slice(base):
    rle = rle_slice(base)
    assert rle.file_meta.TransferSyntaxUID.is_encapsulated
    assert np.array_equal(rle.pixel_array, base.pixel_array)
    palette = palette_slice(base)
    assert palette.PhotometricInterpretation == "PALETTE COLOR"
    assert apply_color_lut(palette.pixel_array, palette).shape == (base.Rows, base.Columns, 3)
    assert len({base.SOPInstanceUID, rle.SOPInstanceUID, palette.SOPInstanceUID}) == 3


@pytest.mark.parametrize("name", sorted(CRAFTED_DATASETS))
def test_crafted_instances_leave_their_base_untouched_and_still_write(base, name):
    before = to_bytes(base)
    crafted = CRAFTED_DATASETS[name](base)
    assert to_bytes(base) == before
    assert to_bytes(crafted)[128:132] == b"DICM"
