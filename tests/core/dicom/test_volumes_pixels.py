"""parse_instance: an archived instance file as its header (no pixel data: what a result references) and its
stored values, left in the file's bytes when uncompressed, decoded when compressed, or left to the archive when this
process has no decoder (generated files, no services)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLosslessSV1, RLELossless

from functions.common.dicom.volumes import CannotDecode
from functions.common.dicom.volumes.pixels import parse_instance


def _ct(rows: int = 24, columns: int = 20) -> Dataset:
    (ds,) = ct_series(Patient(), slices=1, rows=rows, columns=columns)
    return ds


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_uncompressed_pixels_are_read_in_place_and_the_header_keeps_no_pixels(syntax):
    ds = _ct()
    ds.file_meta.TransferSyntaxUID = syntax
    data = to_bytes(ds)
    header, frames = parse_instance(data)
    assert frames.shape == (1, 24, 20) and np.array_equal(frames[0], ds.pixel_array)
    assert np.shares_memory(frames, np.frombuffer(data, np.uint8))  # a view of the file: no copy
    assert "PixelData" not in header and header.buffer is None  # nothing keeps the file's bytes alive
    assert header.SOPInstanceUID == ds.SOPInstanceUID and header.ImagePositionPatient == ds.ImagePositionPatient


def test_a_multi_frame_file_gives_every_frame_in_order():
    ds = _ct()
    frames = np.stack([ds.pixel_array + k for k in range(3)])
    ds.NumberOfFrames, ds.PixelData = 3, frames.tobytes()
    assert np.array_equal(parse_instance(to_bytes(ds))[1], frames)


def test_pixel_data_followed_by_padding_is_read_to_its_own_length():
    ds = _ct()
    ds.DataSetTrailingPadding = b"\0" * 64  # (FFFC,FFFC), after the pixel data
    header, frames = parse_instance(to_bytes(ds))
    assert np.array_equal(frames[0], ds.pixel_array) and "PixelData" not in header


def test_rle_compressed_pixels_are_decoded_and_the_header_keeps_no_pixels():
    ds = _ct()
    compressed = copy.deepcopy(ds)
    compressed.compress(RLELossless, generate_instance_uid=False)
    header, frames = parse_instance(to_bytes(compressed))
    assert np.array_equal(frames[0], ds.pixel_array) and "PixelData" not in header


def test_pixels_this_process_cannot_decode_are_left_to_the_archive():
    ds = _ct()
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1  # no pylibjpeg or gdcm here: the archive decodes these
    ds.PixelData = b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + b"\xfe\xff\x00\xe0\x04\x00\x00\x00abcd" \
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # encapsulated: an empty offset table, one fragment
    ds["PixelData"].VR = "OB"
    header, frames = parse_instance(to_bytes(ds))
    assert frames is None and header.SOPInstanceUID == ds.SOPInstanceUID and "PixelData" not in header


def test_colour_images_are_refused():
    ds = _ct()
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = np.zeros((24, 20, 3), np.uint8).tobytes()
    with pytest.raises(CannotDecode) as refused:
        parse_instance(to_bytes(ds))
    assert "several samples per pixel" in refused.value.detail
