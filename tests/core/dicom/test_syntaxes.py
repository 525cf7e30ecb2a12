"""Big endian and deflated instances become Explicit VR Little Endian at parse time, losslessly, and a deflated
data set is inflated only within the zip import's caps."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from functions.common.dicom import syntaxes
from functions.common.dicom.validation import FailureReason, InstanceRejected, check_instance, parse_part10
from functions.studies import archive_import
from tests.support.syntax_samples import (
    BIG_ENDIAN_SAMPLES,
    DEFLATED_SAMPLE,
    deflate_bomb,
    fresh,
    nested_big_endian,
    same_attributes,
    truncated_deflated,
)

PIXEL_DATA = 0x7FE00010
hostile_input = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on the samples' odd UIDs


def _accepted(data: bytes) -> pydicom.Dataset:
    ds = parse_part10(data, max_inflated_bytes=512 << 20)
    check_instance(ds)
    return ds


@hostile_input
@pytest.mark.parametrize("name", [*BIG_ENDIAN_SAMPLES, DEFLATED_SAMPLE])
def test_a_bundled_sample_becomes_explicit_little_endian_with_the_same_pixels_and_attributes(name):
    original = pydicom.dcmread(get_testdata_file(name))
    ds = _accepted(open(get_testdata_file(name), "rb").read())
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.original_encoding == (False, True)  # what is checked is what was parsed from the converted bytes
    assert np.array_equal(ds.pixel_array, original.pixel_array)
    assert same_attributes(original, ds, skip=frozenset({PIXEL_DATA})) == []
    meta = {k: original.file_meta[k].value for k in original.file_meta.keys() if k not in (0x00020000, 0x00020010)}
    assert {k: ds.file_meta[k].value for k in meta} == meta


@hostile_input
def test_eight_bit_pixels_in_ow_are_swapped_in_pairs_and_the_pad_byte_stays_last():
    ds = _accepted(open(get_testdata_file("SC_rgb_small_odd_big_endian.dcm"), "rb").read())
    little = pydicom.dcmread(get_testdata_file("SC_rgb_small_odd.dcm"))  # the same image, little endian
    assert ds.PixelData[:27] == little.PixelData[:27] and len(ds.PixelData) == 28


def test_nested_binary_and_numeric_values_survive_and_are_written_little_endian():
    data = nested_big_endian()
    original = pydicom.dcmread(BytesIO(data))
    ds = _accepted(data)
    assert same_attributes(original, ds, skip=frozenset({PIXEL_DATA})) == []
    assert np.array_equal(ds.pixel_array, original.pixel_array)
    inner = ds.ReferencedImageSequence[0][0x00700001][0]
    assert inner[0x00700022].value == [1.5, -2.25, 3.0e5]
    assert inner[0x00281041].value == -1
    assert inner[0x00700401].value == [1, 65535, 300]
    assert inner[0x00189087].value == 1000.5
    assert list(inner[0x00280009].value) == [0x00181063, 0x00200013]
    assert np.frombuffer(inner[0x00283006].value, "<u2").tolist() == [1, 2, 300, 65535]
    stored = BytesIO()
    ds.save_as(stored, enforce_file_format=True)  # what ingest writes: little endian bytes, e.g. of US 300
    assert b"\x2c\x01" in stored.getvalue() and b"\x00\x00\x30\xa5\x94\x8f\x40" not in stored.getvalue()


def test_big_endian_encapsulated_pixel_data_is_refused_naming_pixel_data():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for _ in ds.iterall():
        pass
    fragment, item = b"\xff\xd8fake\xff\xd9", b"\xff\xfe\xe0\x00"  # an Item tag, big endian
    ds.PixelData = item + bytes(4) + item + len(fragment).to_bytes(4, "big") + fragment
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    buffer = DicomBytesIO()  # dcmwrite gives native syntaxes a defined length: written by hand
    buffer.write(bytes(128) + b"DICM")
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_file_meta_info(buffer, ds.file_meta)
    buffer.is_little_endian = False
    write_dataset(buffer, ds)
    with pytest.raises(InstanceRejected) as caught:
        parse_part10(buffer.getvalue())
    assert caught.value.attribute == "PixelData" and "encapsulated" in caught.value.message


def test_a_deflate_bomb_is_refused_at_the_ratio_cap_before_it_is_inflated_whole():
    bomb = deflate_bomb()
    with pytest.raises(InstanceRejected) as caught:
        parse_part10(bomb, max_inflated_bytes=512 << 20)
    error = caught.value
    assert error.failure_reason == FailureReason.CANNOT_UNDERSTAND and error.attribute == "TransferSyntaxUID"
    assert f"{syntaxes.MAX_DEFLATE_RATIO}× expansion cap" in error.message


def test_the_instance_size_cap_binds_when_it_is_tighter_than_the_ratio():
    data = fresh(DEFLATED_SAMPLE)  # 4 kB deflated, 257 kB inflated: within 100×
    with pytest.raises(InstanceRejected) as caught:
        parse_part10(data, max_inflated_bytes=100_000)
    assert caught.value.failure_reason == FailureReason.OUT_OF_RESOURCES
    assert "instance size cap of 100000 bytes" in caught.value.message


def test_a_truncated_deflate_stream_is_refused():
    with pytest.raises(InstanceRejected) as caught:
        parse_part10(truncated_deflated(), max_inflated_bytes=512 << 20)
    assert caught.value.failure_reason == FailureReason.CANNOT_UNDERSTAND
    assert "truncated" in caught.value.message


def test_a_corrupt_deflate_stream_is_refused():
    data = bytearray(fresh(DEFLATED_SAMPLE))
    data[-2000:-1000] = bytes(1000)
    with pytest.raises(InstanceRejected) as caught:
        parse_part10(bytes(data), max_inflated_bytes=512 << 20)
    assert caught.value.failure_reason == FailureReason.CANNOT_UNDERSTAND


def test_the_deflate_ratio_cap_is_the_zip_imports():
    assert syntaxes.MAX_DEFLATE_RATIO == archive_import.MAX_RATIO
