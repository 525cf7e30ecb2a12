"""Crafted DICOM instances the gateway must refuse, and the valid palette and RLE variants they start from.

Each helper derives a new instance from a valid CT slice of `mcc_local.dicomgen` and leaves the original
untouched; `CRAFTED_DATASETS` names every crafted data set, so a test can run them all.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
from mcc_local.dicomgen import to_bytes
from pydicom import Dataset
from pydicom.config import disable_value_validation
from pydicom.encaps import encapsulate, generate_frames
from pydicom.uid import RLELossless, SecondaryCaptureImageStorage, generate_uid

# ------------------------------------------------------------------------------------------ valid variants


def palette_slice(base: Dataset) -> Dataset:
    """A valid 8-bit PALETTE COLOR Secondary Capture of a CT slice (soft-tissue window, hot-iron-like LUT)."""
    ds = _derived(base, "palette")
    hu = base.pixel_array.astype(np.float32) * float(base.RescaleSlope) + float(base.RescaleIntercept)
    indices = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth",
                    "WindowCenterWidthExplanation"):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.ConversionType = "WSD"
    ds.set_pixel_data(indices, "PALETTE COLOR", 8, generate_instance_uid=False)
    ramp = np.arange(256, dtype=np.float64) / 255.0
    for colour, curve in (("Red", ramp * 3), ("Green", ramp * 3 - 1), ("Blue", ramp * 3 - 2)):
        lut = (np.clip(curve, 0, 1) * 65535).astype("<u2").tobytes()
        # The descriptors' dictionary VR is "US or SS"; US is right for unsigned pixels.
        ds.add_new(f"{colour}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
        ds.add_new(f"{colour}PaletteColorLookupTableData", "OW", lut)
    return ds


def rle_slice(base: Dataset, *, has_offset_table: bool = True) -> Dataset:
    """A valid RLE Lossless (encapsulated) copy of a CT slice, one fragment for its one frame."""
    ds = _derived(base, f"rle-{has_offset_table}")
    ds.compress(RLELossless, generate_instance_uid=False)
    frames = list(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate(frames, has_bot=has_offset_table)
    return ds


def _derived(base: Dataset, label: str) -> Dataset:
    """A deep copy of base with its own SOPInstanceUID, so it never collides with base in an archive."""
    ds = copy.deepcopy(base)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=[str(base.SOPInstanceUID), label])
    return ds


# --------------------------------------------------------------------------------------- crafted data sets


def pixel_data_too_short(base: Dataset) -> Dataset:
    """PixelData holds half the bytes Rows × Columns × … promise: a decoder reading a frame over-reads."""
    ds = _derived(base, "short")
    ds.PixelData = bytes(ds.PixelData[: len(ds.PixelData) // 2])
    return ds


def pixel_data_too_long(base: Dataset) -> Dataset:
    """PixelData holds 1 KiB more than Rows × Columns × … account for."""
    ds = _derived(base, "long")
    ds.PixelData = bytes(ds.PixelData) + bytes(1024)
    return ds


def huge_dimensions(base: Dataset) -> Dataset:
    """Rows and Columns claim 65535 × 65535 (8 GiB per frame) over 64 bytes of data."""
    ds = _derived(base, "huge-dimensions")
    ds.Rows = ds.Columns = 65535
    ds.PixelData = bytes(64)
    return ds


def huge_frame_count(base: Dataset) -> Dataset:
    """NumberOfFrames claims 2^31 - 1 frames over one frame of data."""
    ds = _derived(base, "huge-frames")
    ds.NumberOfFrames = 2**31 - 1
    return ds


def palette_lut_too_short(base: Dataset) -> Dataset:
    """PALETTE COLOR whose descriptors declare 256 entries while the red LUT data holds 16."""
    ds = palette_slice(_derived(base, "palette-short"))
    ds.RedPaletteColorLookupTableData = bytes(ds.RedPaletteColorLookupTableData[:32])
    return ds


def palette_descriptors_disagree(base: Dataset) -> Dataset:
    """PALETTE COLOR whose green descriptor declares 4096 entries, the red and blue ones 256."""
    ds = palette_slice(_derived(base, "palette-disagree"))
    ds.GreenPaletteColorLookupTableDescriptor = [4096, 0, 16]
    return ds


def frames_exceed_offset_table(base: Dataset) -> Dataset:
    """RLE instance claiming 8 frames while its Basic Offset Table and fragments hold 1."""
    ds = rle_slice(_derived(base, "frames-bot"), has_offset_table=True)
    ds.NumberOfFrames = 8
    return ds


def frames_exceed_fragments(base: Dataset) -> Dataset:
    """RLE instance with an empty Basic Offset Table claiming 8 frames over 1 fragment."""
    ds = rle_slice(_derived(base, "frames-fragments"), has_offset_table=False)
    ds.NumberOfFrames = 8
    return ds


def missing_sop_instance_uid(base: Dataset) -> Dataset:
    """No SOPInstanceUID in the data set (the file meta still names one)."""
    ds = _derived(base, "missing-uid")
    del ds.SOPInstanceUID
    return ds


def invalid_uid(base: Dataset, *, uid: str = "1.2.826.0.1.3680043.8.498.0123") -> Dataset:
    """A SOPInstanceUID with a leading zero in a component, which PS3.5 §9.1 forbids."""
    ds = _derived(base, "invalid-uid")
    del ds.SOPInstanceUID, ds.file_meta.MediaStorageSOPInstanceUID  # elements keep the mode they were made with
    with disable_value_validation():  # an invalid UID is the point
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    return ds


# Every crafted data set by name, for tests that run them all.
CRAFTED_DATASETS: dict[str, Callable[[Dataset], Dataset]] = {crafted.__name__: crafted for crafted in (
    pixel_data_too_short, pixel_data_too_long, huge_dimensions, huge_frame_count, palette_lut_too_short,
    palette_descriptors_disagree, frames_exceed_offset_table, frames_exceed_fragments,
    missing_sop_instance_uid, invalid_uid,
)}

# ------------------------------------------------------------------------------------------ crafted files


def not_dicom_file() -> bytes:
    """A PNG signature and zeros: no DICM prefix at offset 128."""
    return b"\x89PNG\r\n\x1a\n" + bytes(248)


def truncated_file(base: Dataset) -> bytes:
    """The Part 10 bytes of base cut in the middle of its PixelData, as an interrupted upload leaves them."""
    data = to_bytes(base)
    return data[: len(data) - len(base.PixelData) // 2]
