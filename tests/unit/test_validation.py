"""The gateway's instance checks: what Orthanc may see, and the reason and attribute given for what it may not."""

import copy
import struct
from io import BytesIO

import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, mr_series, to_bytes
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.uid import (
    HEVCMP51,
    MPEG2MPML,
    MPEG4HP41,
    CTImageStorage,
    ExplicitVRLittleEndian,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    SecondaryCaptureImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from functions.common.dicom.syntaxes import FRAME_MEDIA_TYPES, VIDEO_TRANSFER_SYNTAXES
from functions.common.dicom.validation import (
    DEFAULT_TRANSFER_SYNTAXES,
    FailureReason,
    InstanceRejected,
    check_instance,
    parse_part10,
)
from tests.support.crafted_dicom import CRAFTED_DATASETS, not_dicom_file, palette_slice, rle_slice, truncated_file
from tests.support.real_world import in_other_vr_form, part10, video_instance, video_of

OUT_OF_RESOURCES = FailureReason.OUT_OF_RESOURCES
DOES_NOT_MATCH = FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
CANNOT_UNDERSTAND = FailureReason.CANNOT_UNDERSTAND
TRANSFER_SYNTAX = FailureReason.TRANSFER_SYNTAX_NOT_SUPPORTED
SOP_CLASS = FailureReason.SOP_CLASS_NOT_SUPPORTED

# pydicom warns (and logs) as it reads hostile input; for the tests that feed it some, that is expected noise.
hostile_input = pytest.mark.filterwarnings("ignore::UserWarning")

# Every crafted instance of tests/support/crafted_dicom.py, the reason it is refused for and the attribute named.
CRAFTED_EXPECTATIONS = {
    "pixel_data_too_short": (DOES_NOT_MATCH, "PixelData"),
    "pixel_data_too_long": (DOES_NOT_MATCH, "PixelData"),
    "huge_dimensions": (OUT_OF_RESOURCES, "Rows"),
    "huge_frame_count": (OUT_OF_RESOURCES, "NumberOfFrames"),
    "palette_lut_too_short": (DOES_NOT_MATCH, "RedPaletteColorLookupTableData"),
    "palette_descriptors_disagree": (DOES_NOT_MATCH, "GreenPaletteColorLookupTableDescriptor"),
    "frames_exceed_offset_table": (DOES_NOT_MATCH, "NumberOfFrames"),
    "frames_exceed_fragments": (DOES_NOT_MATCH, "NumberOfFrames"),
    "missing_sop_instance_uid": (DOES_NOT_MATCH, "SOPInstanceUID"),
    "invalid_uid": (DOES_NOT_MATCH, "SOPInstanceUID"),
}

# pydicom's own sample files (all shipped in the wheel; OBXXXX1A.dcm and emri_small_*.dcm are download-only).
ACCEPTED_SAMPLES = [
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian, converted at parse
    "image_dfl.dcm",  # deflated, inflated within caps
    "CT_small.dcm",  # explicit VR little endian, signed 16-bit
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "JPEG2000.dcm",
    "JPGExtended.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_jpeg.dcm",  # implicit VR elements under a JPEG baseline (explicit VR) syntax: rewritten as declared
    "SC_rgb_rle_2frame.dcm",  # encapsulated, 2 frames, Basic Offset Table
    "SC_rgb_small_odd.dcm",  # 27 bytes of pixels plus the one pad byte
    "SC_ybr_full_422_uncompressed.dcm",  # 2/3 of Rows×Columns×3
    "examples_palette.dcm",  # PALETTE COLOR, 256-entry 16-bit LUTs
    "liver_1frame.dcm",  # 1-bit segmentation, packed
    "rtdose.dcm",  # implicit VR, 15 frames of 32 bits
    "waveform_ecg.dcm",  # no pixel data at all
]
REFUSED_SAMPLES = {
    "MR_truncated.dcm": (CANNOT_UNDERSTAND, "PixelData"),
    "rtplan_truncated.dcm": (CANNOT_UNDERSTAND, "BeamSequence"),
    "meta_missing_tsyntax.dcm": (CANNOT_UNDERSTAND, "TransferSyntaxUID"),
    "no_meta.dcm": (CANNOT_UNDERSTAND, None),  # no preamble and DICM prefix: not Part 10
    "MR_small_padded.dcm": (DOES_NOT_MATCH, "PixelData"),  # 128 bytes beyond Rows×Columns×2
    "JPEGLSNearLossless_08.dcm": (DOES_NOT_MATCH, "StudyInstanceUID"),  # UIDs are checked first
    "badVR.dcm": (DOES_NOT_MATCH, "NumberOfFrames"),  # NumberOfFrames '1A'
}


@pytest.fixture(scope="module")
def ct() -> list[pydicom.Dataset]:
    return ct_series(Patient(), slices=6, rows=64, columns=64)


@pytest.fixture
def ct_slice(ct) -> pydicom.Dataset:
    return copy.deepcopy(ct[3])


def refusal(ds: pydicom.Dataset, **limits) -> InstanceRejected:
    with pytest.raises(InstanceRejected) as caught:
        check_instance(ds, **limits)
    return caught.value


def parse_refusal(data: bytes) -> InstanceRejected:
    with pytest.raises(InstanceRejected) as caught:
        check_instance(parse_part10(data))
    return caught.value


def sample(name: str) -> bytes:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom no longer ships {name}"
    with open(path, "rb") as file:
        return file.read()


def assert_refused(error: InstanceRejected, reason: int, attribute: str | None) -> None:
    assert (error.failure_reason, error.attribute) == (reason, attribute), error.message
    if attribute:
        assert attribute in error.message


# ---------------------------------------------------------------------------------------------- accepted


def test_every_generated_slice_passes_as_dataset_and_as_part10_bytes(ct):
    mr = mr_series(Patient(), slices=4, rows=64, columns=64)
    for ds in ct + mr:
        check_instance(ds)
        check_instance(parse_part10(to_bytes(ds)))


@pytest.mark.parametrize("variant", [palette_slice, rle_slice, lambda ds: rle_slice(ds, has_offset_table=False)],
                         ids=["palette", "rle", "rle-without-offset-table"])
def test_palette_and_encapsulated_variants_pass(ct_slice, variant):
    check_instance(parse_part10(to_bytes(variant(ct_slice))))


@hostile_input  # rtdose.dcm: a ReferencedSOPInstanceUID has a leading zero; only 4 UIDs are checked
@pytest.mark.parametrize("name", ACCEPTED_SAMPLES)
def test_pydicom_sample_is_accepted(name):
    check_instance(parse_part10(sample(name)))


def test_parsed_instance_keeps_its_values_and_pixels(ct_slice):
    ds = parse_part10(to_bytes(ct_slice))
    assert ds.SOPInstanceUID == ct_slice.SOPInstanceUID
    assert (ds.pixel_array == ct_slice.pixel_array).all()


@hostile_input
@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian], ids=["explicit", "implicit"])
def test_a_data_set_in_the_other_vr_form_is_rewritten_as_its_syntax_says(ct_slice, syntax):
    ct_slice.file_meta.TransferSyntaxUID = syntax
    data = in_other_vr_form(ct_slice)
    as_written = pydicom.dcmread(BytesIO(data))
    assert as_written.get_item("SOPInstanceUID").is_implicit_VR is not syntax.is_implicit_VR
    ds = parse_part10(data)
    check_instance(ds)
    stored = to_bytes(ds)
    again = pydicom.dcmread(BytesIO(stored))
    assert again.file_meta.TransferSyntaxUID == syntax
    assert again.original_encoding == (syntax.is_implicit_VR, True)
    for elem in ct_slice:  # every value, with its dictionary VR
        assert again[elem.tag].value == elem.value, elem.keyword
        assert again[elem.tag].VR == elem.VR, elem.keyword
    assert (again.pixel_array == ct_slice.pixel_array).all()


def test_checking_changes_nothing(ct_slice):
    before = to_bytes(ct_slice)
    check_instance(ct_slice)
    assert to_bytes(ct_slice) == before


# --------------------------------------------------------------------------------------- crafted instances


def test_every_crafted_case_has_an_expectation():
    assert set(CRAFTED_EXPECTATIONS) == set(CRAFTED_DATASETS)


@hostile_input
@pytest.mark.parametrize("name", sorted(CRAFTED_DATASETS))
def test_crafted_instance_is_refused_with_its_reason_naming_the_attribute(ct_slice, name):
    reason, attribute = CRAFTED_EXPECTATIONS[name]
    crafted = CRAFTED_DATASETS[name](ct_slice)
    assert_refused(refusal(crafted), reason, attribute)
    assert_refused(parse_refusal(to_bytes(crafted)), reason, attribute)


def test_short_pixel_data_message_gives_both_lengths(ct_slice):
    error = refusal(CRAFTED_DATASETS["pixel_data_too_short"](ct_slice))
    assert error.message.startswith("PixelData is 4096 bytes but Rows×Columns×SamplesPerPixel×BitsAllocated/8×"
                                    "NumberOfFrames = 8192")
    assert str(error).endswith("(failure reason 0xA900)")


def test_non_dicom_file_is_not_understood():
    error = parse_refusal(not_dicom_file())
    assert error.failure_reason == CANNOT_UNDERSTAND
    assert error.message.startswith("not a DICOM Part 10 file: ")


@pytest.mark.parametrize("data", [b"", b"DICM", bytes(128) + b"DICM"], ids=["empty", "prefix-only", "no-meta"])
def test_tiny_inputs_are_not_understood(data):
    assert parse_refusal(data).failure_reason == CANNOT_UNDERSTAND


def test_truncated_file_is_not_understood_naming_the_cut_element(ct_slice):
    assert_refused(parse_refusal(truncated_file(ct_slice)), CANNOT_UNDERSTAND, "PixelData")


@hostile_input
@pytest.mark.parametrize("variant", [lambda ds: ds, palette_slice, rle_slice], ids=["native", "palette", "rle"])
def test_a_file_cut_anywhere_is_refused(variant):
    ds = variant(ct_series(Patient(), slices=1, rows=8, columns=8)[0])
    data = to_bytes(ds)
    end = len(data) - 8 if ds.file_meta.TransferSyntaxUID.is_encapsulated else len(data)  # cuts in the delimiter
    passed = []
    for cut in range(end):
        try:
            check_instance(parse_part10(data[:cut]))
            passed.append(cut)
        except InstanceRejected:
            pass
    assert passed == []


# ---------------------------------------------------------------------------------------------- pydicom samples


@hostile_input
@pytest.mark.parametrize("name", sorted(REFUSED_SAMPLES))
def test_pydicom_sample_is_refused(name):
    reason, attribute = REFUSED_SAMPLES[name]
    assert_refused(parse_refusal(sample(name)), reason, attribute)


def test_sample_palette_with_a_shortened_lut_is_refused():
    ds = parse_part10(sample("examples_palette.dcm"))
    ds.BluePaletteColorLookupTableData = ds.BluePaletteColorLookupTableData[:256]
    assert_refused(refusal(ds), DOES_NOT_MATCH, "BluePaletteColorLookupTableData")


def test_sample_with_one_byte_beyond_its_pad_byte_is_refused():
    ds = parse_part10(sample("SC_rgb_small_odd.dcm"))
    ds.PixelData = ds.PixelData + b"\0\0"
    assert_refused(refusal(ds), DOES_NOT_MATCH, "PixelData")


def test_one_bit_pixels_missing_their_last_byte_are_refused():
    ds = parse_part10(sample("liver_1frame.dcm"))
    ds.PixelData = ds.PixelData[:-2]
    error = refusal(ds)
    assert_refused(error, DOES_NOT_MATCH, "PixelData")
    assert "rounded up to whole bytes" in error.message


def test_sample_two_frame_rle_claiming_three_frames_is_refused():
    ds = parse_part10(sample("SC_rgb_rle_2frame.dcm"))
    ds.NumberOfFrames = 3
    assert_refused(refusal(ds), DOES_NOT_MATCH, "NumberOfFrames")


# --------------------------------------------------------------------------------------------------- UIDs


@pytest.mark.parametrize("keyword", ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"])
@pytest.mark.parametrize("value, complaint", [
    (None, "is missing"),
    ("", "is missing"),
    ("1.2.840.abc", "digits separated by dots"),
    ("1..2", "digits separated by dots"),
    ("1.2.", "digits separated by dots"),
    ("1.2.03", "leading zero"),
    ("1." + "2" * 63, "at most 64"),
])
@hostile_input
def test_each_required_uid_must_be_present_and_valid(ct_slice, keyword, value, complaint):
    if value is None:
        del ct_slice[keyword]
    else:
        ct_slice[keyword].value = value
    error = refusal(ct_slice)
    assert_refused(error, DOES_NOT_MATCH, keyword)
    assert complaint in error.message


@pytest.mark.parametrize("sop_class", [
    "1.2.840.10008.1.1",  # Verification
    "1.2.840.10008.1.3.10",  # Media Storage Directory (DICOMDIR)
    "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Query/Retrieve - FIND
    "1.3.6.1.4.1.99999.1.1",  # a private class nobody here knows
])
def test_a_sop_class_that_is_not_storage_is_not_supported(ct_slice, sop_class):
    ct_slice.SOPClassUID = sop_class
    assert_refused(refusal(ct_slice), SOP_CLASS, "SOPClassUID")


def test_an_image_storage_instance_without_pixel_data_is_refused(ct_slice):
    del ct_slice.PixelData
    error = refusal(ct_slice)
    assert_refused(error, DOES_NOT_MATCH, "PixelData")
    assert "CT Image Storage" in error.message


# ------------------------------------------------------------------------------------------ transfer syntax


def test_the_allowlist_checked_after_parsing_holds_only_little_endian():
    for uid in map(pydicom.uid.UID, DEFAULT_TRANSFER_SYNTAXES):
        assert uid.is_little_endian and not uid.is_deflated


def test_a_narrower_allowlist_refuses_what_it_leaves_out(ct_slice):
    allowed = DEFAULT_TRANSFER_SYNTAXES - {RLELossless}
    assert_refused(refusal(rle_slice(ct_slice), allowed_transfer_syntaxes=allowed), TRANSFER_SYNTAX,
                   "TransferSyntaxUID")


def test_a_narrower_allowlist_refuses_jpeg_ls():
    ds = parse_part10(sample("MR_small_jpeg_ls_lossless.dcm"))
    assert_refused(refusal(ds, allowed_transfer_syntaxes=DEFAULT_TRANSFER_SYNTAXES - {JPEGLSLossless}),
                   TRANSFER_SYNTAX, "TransferSyntaxUID")


def test_every_stored_syntax_has_the_media_type_its_frames_travel_in():
    assert set(FRAME_MEDIA_TYPES) == set(DEFAULT_TRANSFER_SYNTAXES)  # big endian and deflated are never stored
    assert {uid for uid, media in FRAME_MEDIA_TYPES.items() if media.startswith("video/")} == VIDEO_TRANSFER_SYNTAXES
    assert FRAME_MEDIA_TYPES[ImplicitVRLittleEndian] == "application/octet-stream"
    assert (FRAME_MEDIA_TYPES[HTJ2KLosslessRPCL], FRAME_MEDIA_TYPES[JPEGLSNearLossless]) == ("image/jphc", "image/jls")


# ------------------------------------------------------------------------------------------------- video


@pytest.mark.parametrize("syntax", sorted(VIDEO_TRANSFER_SYNTAXES))
def test_every_video_syntax_is_accepted_for_a_video_sop_class(syntax):
    check_instance(parse_part10(part10(video_instance(syntax, fragments=2))))


@pytest.mark.parametrize("sop_class", [CTImageStorage, SecondaryCaptureImageStorage,
                                       UltrasoundMultiFrameImageStorage])
def test_a_video_syntax_for_any_other_sop_class_is_refused_naming_both(sop_class):
    error = refusal(video_instance(MPEG4HP41, sop_class=sop_class))
    assert_refused(error, TRANSFER_SYNTAX, "TransferSyntaxUID")
    assert error.message.startswith("TransferSyntaxUID is video but SOPClassUID is not")


def test_a_video_stream_with_offsets_in_its_basic_offset_table_is_refused():
    ds = video_instance(MPEG2MPML)
    ds.PixelData = encapsulate([video_of(ds)], has_bot=True)  # one offset, 0: the stream's start
    assert_refused(refusal(ds), DOES_NOT_MATCH, "PixelData")


def test_a_video_stream_with_an_extended_offset_table_is_refused():
    ds = video_instance(MPEG2MPML)
    ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = bytes(8), struct.pack("<Q", 100)
    assert_refused(refusal(ds), DOES_NOT_MATCH, "ExtendedOffsetTable")


def test_a_video_stream_of_many_frames_in_one_fragment_passes_but_its_fragments_are_still_bounded():
    ds = video_instance(HEVCMP51, frames=6)
    check_instance(ds)  # six frames, one fragment: a stream, not a frame per fragment
    data = bytearray(ds.PixelData)
    struct.pack_into("<L", data, 12, 0x7FFFFFF0)  # the first fragment's length
    ds.PixelData = bytes(data)
    assert "claims 2147483632 bytes" in refusal(ds).message


def test_an_instance_without_transfer_syntax_is_not_understood(ct_slice):
    del ct_slice.file_meta.TransferSyntaxUID
    assert_refused(refusal(ct_slice), CANNOT_UNDERSTAND, "TransferSyntaxUID")


# ------------------------------------------------------------------------------------------- pixel module


@pytest.mark.parametrize("keyword, value, complaint", [
    ("BitsAllocated", 12, "BitsAllocated is 12"),
    ("BitsStored", 17, "BitsStored is 17"),
    ("HighBit", 16, "HighBit is 16"),
    ("PixelRepresentation", 2, "PixelRepresentation is 2"),
    ("SamplesPerPixel", 3, "SamplesPerPixel is 3 but PhotometricInterpretation MONOCHROME2 has 1"),
    ("PhotometricInterpretation", "CMYK", "PhotometricInterpretation 'CMYK'"),
    ("NumberOfFrames", 0, "NumberOfFrames is 0"),
    ("Rows", 0, "Rows is 0"),
])
def test_pixel_module_attributes_must_be_sane(ct_slice, keyword, value, complaint):
    setattr(ct_slice, keyword, value)
    error = refusal(ct_slice)
    assert_refused(error, DOES_NOT_MATCH, keyword)
    assert complaint in error.message


@pytest.mark.parametrize("keyword", ["Rows", "BitsAllocated", "PhotometricInterpretation"])
def test_pixel_module_attributes_must_be_present(ct_slice, keyword):
    delattr(ct_slice, keyword)
    assert_refused(refusal(ct_slice), DOES_NOT_MATCH, keyword)


def test_pixel_data_over_the_size_limit_is_refused_before_anything_else(ct_slice):
    ct_slice.Rows = 0  # would be a mismatch, but the bomb check comes first
    error = refusal(ct_slice, max_pixel_data_bytes=1024)
    assert_refused(error, OUT_OF_RESOURCES, "PixelData")
    assert "over the limit of 1024" in error.message


def test_frames_over_the_frame_size_limit_are_refused(ct_slice):
    assert_refused(refusal(ct_slice, max_frame_bytes=1024), OUT_OF_RESOURCES, "Rows")


def test_frame_count_over_the_limit_is_refused(ct_slice):
    ct_slice.NumberOfFrames = 3
    ct_slice.PixelData = bytes(ct_slice.PixelData) * 3
    check_instance(ct_slice)
    assert_refused(refusal(ct_slice, max_frames=2), OUT_OF_RESOURCES, "NumberOfFrames")


def test_two_pixel_data_elements_are_refused(ct_slice):
    ct_slice.FloatPixelData = bytes(len(ct_slice.PixelData) * 2)
    assert_refused(refusal(ct_slice), DOES_NOT_MATCH, "FloatPixelData")


# ------------------------------------------------------------------------------------------------ palette


def test_palette_color_without_its_lut_is_refused(ct_slice):
    ds = palette_slice(ct_slice)
    del ds.GreenPaletteColorLookupTableData
    assert_refused(refusal(ds), DOES_NOT_MATCH, "GreenPaletteColorLookupTableData")


def test_palette_descriptor_declaring_bits_other_than_8_or_16_is_refused(ct_slice):
    ds = palette_slice(ct_slice)
    for colour in ("Red", "Green", "Blue"):
        ds[f"{colour}PaletteColorLookupTableDescriptor"].value = [256, 0, 12]
    assert_refused(refusal(ds), DOES_NOT_MATCH, "RedPaletteColorLookupTableDescriptor")


def test_a_segmented_palette_is_expanded_into_the_table_its_descriptor_declares(ct_slice):
    ds = palette_slice(ct_slice)
    plain = ds.RedPaletteColorLookupTableData
    ds.SegmentedRedPaletteColorLookupTableData = struct.pack("<HH256H", 0, 256, *struct.unpack("<256H", plain))
    del ds.RedPaletteColorLookupTableData
    check_instance(ds)
    assert ds.RedPaletteColorLookupTableData == plain and "SegmentedRedPaletteColorLookupTableData" not in ds


def test_segmented_palette_data_that_is_not_segments_is_not_understood(ct_slice):
    ds = palette_slice(ct_slice)
    ds.SegmentedRedPaletteColorLookupTableData = ds.RedPaletteColorLookupTableData  # plain entries, read as segments
    del ds.RedPaletteColorLookupTableData
    assert_refused(refusal(ds), CANNOT_UNDERSTAND, "SegmentedRedPaletteColorLookupTableData")


# ------------------------------------------------------------------------------------------- encapsulated


def rle_frames(ct_slice: pydicom.Dataset, count: int) -> tuple[pydicom.Dataset, list[bytes]]:
    ds = rle_slice(ct_slice)
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    ds.NumberOfFrames = count
    return ds, [frame] * count


def test_multi_frame_encapsulated_data_with_its_offset_table_passes(ct_slice):
    ds, frames = rle_frames(ct_slice, 3)
    ds.PixelData = encapsulate(frames, has_bot=True)
    check_instance(ds)


def test_a_fragment_claiming_more_bytes_than_remain_is_refused(ct_slice):
    ds, frames = rle_frames(ct_slice, 1)
    data = bytearray(encapsulate(frames, has_bot=False))
    struct.pack_into("<L", data, 12, 0x7FFFFFF0)  # the first fragment's length
    ds.PixelData = bytes(data)
    error = refusal(ds)
    assert_refused(error, DOES_NOT_MATCH, "PixelData")
    assert "claims 2147483632 bytes" in error.message


def test_offset_table_pointing_inside_a_fragment_is_refused(ct_slice):
    ds, frames = rle_frames(ct_slice, 2)
    data = bytearray(encapsulate(frames, has_bot=True))
    struct.pack_into("<L", data, 12, 5)  # the second frame's offset
    ds.PixelData = bytes(data)
    assert_refused(refusal(ds), DOES_NOT_MATCH, "PixelData")


def test_encapsulated_data_without_an_offset_table_item_is_refused(ct_slice):
    ds = rle_slice(ct_slice)
    ds.PixelData = b"\x00" * 64
    assert_refused(refusal(ds), DOES_NOT_MATCH, "PixelData")


def test_extended_offset_table_must_list_every_frame(ct_slice):
    ds, frames = rle_frames(ct_slice, 2)
    ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = encapsulate_extended(frames)
    check_instance(ds)
    ds.NumberOfFrames = 1
    assert_refused(refusal(ds), DOES_NOT_MATCH, "NumberOfFrames")


def test_too_many_fragments_are_refused(ct_slice):
    ds = rle_slice(ct_slice, has_offset_table=False)
    ds.PixelData = encapsulate([b"\0\0"] * 100, has_bot=False)  # 64 fragments per allowed frame
    assert_refused(refusal(ds, max_frames=1), OUT_OF_RESOURCES, "PixelData")
