"""Real-world files in every accepted transfer syntax through the gateway: stored as sent (big endian and deflated
as Explicit VR Little Endian), found by QIDO-RS at study and instance level, retrieved by WADO-RS with the same
pixels (decoded by pydicom's plugins; by libjpeg-turbo for JPEG lossless and 12-bit, by FFmpeg for video) and the
original attributes; a segmented palette comes back as the plain tables it expands to; video syntaxes outside video
SOP classes and malformed segmented palettes are refused with a comment naming the attribute."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import requests
from pydicom import Dataset
from pydicom.pixels.processing import apply_color_lut
from pydicom.uid import MPEG4HP41, CTImageStorage, ExplicitVRLittleEndian, JPEGLossless, JPEGLosslessSV1

from functions.common.dicom.syntaxes import VIDEO_TRANSFER_SYNTAXES
from tests.support.dicomweb import DICOM_PARTS, instance_path, parts_of, stow
from tests.support.real_world import (
    CONVERTED,
    HTJ2K_SYNTAXES,
    STORED_AS_SENT,
    UNDECODED,
    decoded_pixels,
    decoded_video,
    htj2k,
    in_other_vr_form,
    jpeg_lossless,
    part10,
    sample,
    segmented,
    segmented_palette,
    video_instance,
    video_of,
    with_fresh_uids,
)
from tests.support.syntax_samples import same_attributes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on some samples' odd values
PIXEL_DATA = 0x7FE00010
COLOURS = ("Red", "Green", "Blue")


def _stored(client, data: bytes) -> Dataset:
    """STOW one instance; the answer lists it as stored. The uploaded file as pydicom reads it."""
    original = pydicom.dcmread(io.BytesIO(data))
    r = stow(client, None, raw=[data])
    assert r.status_code == 200, r.text
    (item,) = r.json()["00081199"]["Value"]
    assert item["00081155"]["Value"] == [original.SOPInstanceUID]
    assert "00081198" not in r.json()
    return original


def _found(client, ds: Dataset) -> None:
    """QIDO-RS finds the study by its UID and the instance within it."""
    r = client.get("/dicom-web/studies", params={"StudyInstanceUID": ds.StudyInstanceUID})
    assert r.status_code == 200, r.text
    assert [s["0020000D"]["Value"][0] for s in r.json()] == [ds.StudyInstanceUID]
    r = client.get(f"/dicom-web/studies/{ds.StudyInstanceUID}/instances",
                   params={"SOPInstanceUID": ds.SOPInstanceUID})
    assert r.status_code == 200, r.text
    (instance,) = r.json()
    assert instance["00080018"]["Value"] == [ds.SOPInstanceUID]
    assert instance["00080016"]["Value"] == [ds.SOPClassUID]


def _retrieved(client, ds: Dataset) -> Dataset:
    r = client.get(instance_path(ds), headers={"Accept": DICOM_PARTS})
    assert r.status_code == 200, r.text
    (part,) = parts_of(r)
    return pydicom.dcmread(io.BytesIO(part))


def _round_trip(client, ds: Dataset) -> tuple[Dataset, Dataset]:
    """Store, find and retrieve an instance: (what was sent, what came back)."""
    original = _stored(client, part10(ds))
    _found(client, original)
    return original, _retrieved(client, original)


@pytest.mark.parametrize("name", STORED_AS_SENT)
def test_a_sample_in_its_syntax_is_stored_found_and_retrieved_as_sent(doctor, name):
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(sample(name)))
    assert retrieved.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert retrieved.PixelData == original.PixelData
    assert np.array_equal(decoded_pixels(retrieved), decoded_pixels(original))
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


@pytest.mark.parametrize("name", UNDECODED)
def test_a_sample_no_decoder_here_reads_is_stored_and_retrieved_byte_for_byte(doctor, name):
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(sample(name)))
    assert retrieved.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert retrieved.PixelData == original.PixelData
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


@pytest.mark.parametrize("name", CONVERTED)
def test_a_big_endian_or_deflated_sample_comes_back_little_endian_with_its_pixels(doctor, name):
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(sample(name)))
    assert retrieved.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(decoded_pixels(retrieved), decoded_pixels(original))
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "MR_small_implicit.dcm"])
def test_a_file_in_the_other_vr_form_than_its_syntax_says_is_stored_as_it_says(doctor, name):
    original = with_fresh_uids(sample(name))
    stored = _stored(doctor.client, in_other_vr_form(original))
    _found(doctor.client, stored)
    retrieved = _retrieved(doctor.client, stored)
    assert retrieved.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert retrieved.get_item("SOPInstanceUID").is_implicit_VR is original.file_meta.TransferSyntaxUID.is_implicit_VR
    assert retrieved.PixelData == original.PixelData
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


@pytest.mark.parametrize("syntax", HTJ2K_SYNTAXES, ids=lambda uid: uid.name)
@pytest.mark.parametrize("name", ["CT_small.dcm", "examples_rgb_color.dcm"])
def test_an_htj2k_instance_is_stored_and_retrieved_as_sent(doctor, syntax, name):
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(htj2k(syntax, name)))
    assert retrieved.file_meta.TransferSyntaxUID == syntax
    assert retrieved.PixelData == original.PixelData
    assert np.array_equal(decoded_pixels(retrieved), decoded_pixels(original))
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


@pytest.mark.parametrize("syntax", [JPEGLossless, JPEGLosslessSV1], ids=lambda uid: uid.name)
def test_a_lossless_jpeg_instance_is_stored_and_retrieved_as_sent(doctor, syntax):
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(jpeg_lossless(syntax)))
    assert retrieved.file_meta.TransferSyntaxUID == syntax
    assert retrieved.PixelData == original.PixelData
    assert np.array_equal(decoded_pixels(retrieved), decoded_pixels(original))
    assert np.array_equal(decoded_pixels(retrieved), sample("CT_small.dcm").pixel_array)  # lossless indeed


@pytest.mark.parametrize("syntax", sorted(VIDEO_TRANSFER_SYNTAXES), ids=lambda uid: pydicom.uid.UID(uid).name)
def test_a_video_is_stored_and_retrieved_as_the_same_stream(doctor, syntax):
    fragments = 3 if pydicom.uid.UID(syntax).name.startswith("Fragmentable") else 1
    original, retrieved = _round_trip(doctor.client, with_fresh_uids(video_instance(syntax, fragments=fragments)))
    assert retrieved.file_meta.TransferSyntaxUID == syntax
    assert retrieved.PixelData == original.PixelData
    frames = decoded_video(video_of(retrieved), syntax)
    assert len(frames) == original.NumberOfFrames
    assert all(np.array_equal(a, b) for a, b in zip(frames, decoded_video(video_of(original), syntax), strict=True))
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


def test_a_segmented_palette_is_stored_as_the_plain_tables_it_expands_to(doctor):
    original, retrieved = _round_trip(doctor.client, segmented_palette())
    tables = {f"{c}PaletteColorLookupTableData" for c in COLOURS}
    for keyword in tables:
        assert f"Segmented{keyword}" not in retrieved
        assert retrieved[keyword].value == sample("examples_palette.dcm")[keyword].value
    assert np.array_equal(apply_color_lut(retrieved.pixel_array, retrieved),
                          apply_color_lut(original.pixel_array, original))  # pydicom's expansion of what was sent
    segmented_tags = {original[f"Segmented{k}"].tag for k in tables} | {retrieved[k].tag for k in tables}
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA, *segmented_tags})) == []


# ---------------------------------------------------------------------------------------------------- refused


def _archived(archive, sop: str) -> list:
    r = requests.post(archive.url + "/tools/lookup", data=sop, auth=tuple(archive.credentials), timeout=10)
    return [hit for hit in r.json() if hit["Type"] == "Instance"]


def _refused(client, archive, ds: Dataset) -> tuple[int, str]:
    """STOW an instance the gateway refuses: its failure reason and comment; the archive never saw it."""
    r = stow(client, None, raw=[part10(ds)])
    assert r.status_code == 409, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert _archived(archive, str(ds.SOPInstanceUID)) == []
    return failure["00081197"]["Value"][0], failure["00000902"]["Value"][0]


def test_a_video_syntax_on_a_ct_image_is_refused_naming_both_attributes(doctor, archive):
    ds = with_fresh_uids(video_instance(MPEG4HP41, sop_class=CTImageStorage))
    reason, comment = _refused(doctor.client, archive, ds)
    assert reason == 0xC122
    assert "TransferSyntaxUID" in comment and "SOPClassUID" in comment


def test_a_malformed_segmented_palette_is_refused_naming_it(doctor, archive):
    ds = segmented_palette()
    ds.SegmentedGreenPaletteColorLookupTableData = segmented([("discrete", [1]), ("indirect", 1, 3)])  # a loop
    reason, comment = _refused(doctor.client, archive, ds)
    assert reason == 0xC000
    assert comment.startswith("SegmentedGreenPaletteColorLookupTableData")


def test_a_segmented_palette_longer_than_its_descriptor_is_refused_naming_it(doctor, archive):
    ds = segmented_palette()
    ds.SegmentedBluePaletteColorLookupTableData = segmented([("discrete", [0]), ("linear", 400, 9)])
    reason, comment = _refused(doctor.client, archive, ds)
    assert reason == 0xC000
    assert comment.startswith("SegmentedBluePaletteColorLookupTableData")
