"""The archive copy's writer (`part10.write`): the same file `save_as` writes for every instance ingest accepts, the
uploaded bytes for what the profile left alone, and pydicom's encoding for everything changed or new."""

from __future__ import annotations

import io
import warnings

import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, mr_series, to_bytes
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from support.real_world import SAMPLES

from functions.common.dicom import part10
from functions.common.dicom.deidentify import deidentify
from functions.common.dicom.intake import Header
from functions.common.dicom.validation import InstanceRejected, check_instance, parse_part10


def _accepted_samples() -> list[str]:
    """Every sample file pydicom's wheel ships that ingest's parse and checks accept (compressed syntaxes, implicit,
    big endian and deflated ones converted, sequences, private tags, SR, RT)."""
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(SAMPLES.glob("*.dcm")):
            try:
                check_instance(parse_part10(path.read_bytes()))
            except InstanceRejected:
                continue
            names.append(path.name)
    return names


SAMPLE_NAMES = _accepted_samples()


def _saved(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _deidentified(data: bytes) -> tuple[Dataset, set[int]]:
    """As ingest does it: parsed, checked, the header read, the profile applied; and the tags it changed."""
    ds = parse_part10(data)
    check_instance(ds)
    taken = deidentify(ds, patient_key=Header.of(ds).patient_id_hash).originals
    return ds, {*taken.elements, *taken.added}


def test_ingest_accepts_enough_samples_for_this_to_mean_something():
    assert len(SAMPLE_NAMES) >= 40
    assert {"CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm", "JPEG2000.dcm",
            "MR_small_RLE.dcm", "test-SR.dcm", "rtplan.dcm", "SC_rgb_jpeg.dcm"} <= set(SAMPLE_NAMES)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_a_deidentified_sample_is_written_as_save_as_writes_it(platform_env, name):
    data = (SAMPLES / name).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds, changed = _deidentified(data)
        assert part10.write(ds, changed=changed) == _saved(ds)


@pytest.mark.parametrize("series", [ct_series, mr_series])
def test_generated_series_are_written_as_save_as_writes_them(platform_env, series):
    for generated in series(Patient(name="QZWRITER^ANN", patient_id="QZ-W-1"), slices=3, rows=64, columns=64):
        ds, changed = _deidentified(to_bytes(generated))
        assert part10.write(ds, changed=changed) == _saved(ds)


def _instance(**attributes: str) -> bytes:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", generate_uid()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return to_bytes(ds)


def test_a_decoded_element_nobody_changed_goes_out_as_uploaded():
    # A UID padded with a space (not the NUL the standard asks for): pydicom would re-pad it once decoded.
    data = _instance(StudyInstanceUID="1.2.3.4").replace(b"UI\x08\x001.2.3.4\x00", b"UI\x08\x001.2.3.4 ")
    ds = parse_part10(data)
    assert ds.StudyInstanceUID == "1.2.3.4"  # decoded
    written = part10.write(ds, changed=set())
    assert b"UI\x08\x001.2.3.4 " in written
    assert b"UI\x08\x001.2.3.4\x00" in _saved(ds)


def test_changed_in_place_and_listed_is_written_new():
    ds = parse_part10(_instance(StudyDescription="QZ-SECRET-DESC"))
    ds.StudyDescription = "CLEAN"
    written = part10.write(ds, changed={0x00081030})
    assert b"QZ-SECRET-DESC" not in written and pydicom.dcmread(io.BytesIO(written)).StudyDescription == "CLEAN"


def test_replaced_added_and_removed_elements_need_no_listing():
    ds = parse_part10(_instance(StudyDescription="QZ-OLD", SeriesDescription="QZ-GONE"))
    ds.add_new(0x00081030, "LO", "NEW")  # a new element replaces the one read
    ds.add_new(0x00204000, "LT", "ADDED")
    del ds.SeriesDescription
    written = pydicom.dcmread(io.BytesIO(part10.write(ds, changed=set())))
    assert (written.StudyDescription, written.ImageComments) == ("NEW", "ADDED")
    assert "SeriesDescription" not in written


def test_a_data_set_built_in_memory_is_written_by_pydicom():
    ds = pydicom.dcmread(io.BytesIO(_instance(StudyDescription="MEMORY")))
    built = Dataset()
    built.file_meta = ds.file_meta
    built.update(ds)
    assert part10.write(built, changed=set()) == _saved(built)


def test_group_lengths_are_left_out_as_dcmwrite_does():
    data = _instance(StudyDescription="X")
    ds = parse_part10(data)
    ds.add_new(0x00080000, "UL", 1234)
    assert part10.write(ds, changed=set()) == _saved(ds)
    assert b"\x08\x00\x00\x00UL" not in part10.write(ds, changed=set())[132:]
