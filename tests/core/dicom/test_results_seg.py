"""A label volume becomes a DICOM SEG of its series: written, read back with highdicom, checked by the platform's
upload validation; and every disagreement between the output and the series is refused, naming it."""

from __future__ import annotations

import io
import random
import time

import highdicom as hd
import numpy as np
import pytest
from highdicom.color import CIELabColor
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom.sr.codedict import codes

from functions.common.dicom.results import AlgorithmInfo, ResultRefused, segmentation
from functions.common.dicom.validation import check_instance, parse_part10
from model_builder import Code, Label, LabelVolume, Volume
from model_builder.samples.synthetic_ct import volume_from_datasets

LIVER = Label("Liver", Code("10200004", "SCT", "Liver"), (221, 130, 101))
LESION = Label("Lesion")  # no code, no colour
SPLEEN = Label("Spleen", Code("78961009", "SCT", "Spleen"), (157, 108, 162))  # never found: an empty segment
LABELS = (LIVER, LESION, SPLEEN)
MODEL = AlgorithmInfo("Liver and lesions", 3, "0123456789abcdef" * 4)


@pytest.fixture(scope="module")
def series():
    """A 12-slice CT as the gateway stores it (Part 10 bytes read back), sorted along the slice normal."""
    datasets = [parse_part10(to_bytes(ds)) for ds in ct_series(Patient(name="SEG^RESULT"), slices=12, rows=32,
                                                                   columns=40)]
    return sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))


@pytest.fixture(scope="module")
def volume(series) -> Volume:
    return volume_from_datasets(series)


@pytest.fixture(scope="module")
def labelled() -> np.ndarray:
    array = np.zeros((12, 32, 40), np.uint8)
    array[3:8, 10:20, 12:30] = 1
    array[5:7, 12:15, 14:18] = 2  # a lesion inside the liver
    array[10, 0, 0] = 1  # one corner voxel on its own slice
    return array


def _written(seg: hd.seg.Segmentation) -> bytes:
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def seg_bytes(series, volume, labelled) -> bytes:
    shuffled = random.Random(7).sample(series, len(series))  # the order the archive lists instances in is no order
    return _written(segmentation(shuffled, LABELS, LabelVolume(labelled), volume=volume, algorithm=MODEL))


def test_the_seg_gives_back_the_label_volume_exactly(seg_bytes, series, labelled):
    seg = hd.seg.segread(io.BytesIO(seg_bytes))
    mask = seg.get_pixels_by_source_instance([ds.SOPInstanceUID for ds in series], combine_segments=True,
                                             skip_overlap_checks=True, assert_missing_frames_are_empty=True)
    assert mask.shape == labelled.shape
    np.testing.assert_array_equal(mask, labelled)


def test_each_label_of_the_task_is_a_segment_numbered_as_the_task_numbers_it(seg_bytes):
    seg = hd.seg.segread(io.BytesIO(seg_bytes))
    assert seg.SegmentationType == "BINARY"
    segments = {item.SegmentNumber: item for item in seg.SegmentSequence}
    assert {number: item.SegmentLabel for number, item in segments.items()} == {1: "Liver", 2: "Lesion", 3: "Spleen"}
    liver, lesion, spleen = segments[1], segments[2], segments[3]
    assert liver.SegmentedPropertyCategoryCodeSequence[0].CodeValue == codes.SCT.AnatomicalStructure.value
    assert (liver.SegmentedPropertyTypeCodeSequence[0].CodeValue,
            liver.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator) == ("10200004", "SCT")
    assert spleen.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Spleen"
    assert lesion.SegmentedPropertyCategoryCodeSequence[0].CodeValue == codes.SCT.Tissue.value
    assert lesion.SegmentedPropertyTypeCodeSequence[0].CodeValue == codes.SCT.Tissue.value
    assert list(liver.RecommendedDisplayCIELabValue) == list(CIELabColor.from_rgb(221, 130, 101).value)
    assert "RecommendedDisplayCIELabValue" not in lesion
    for item in segments.values():
        assert item.SegmentAlgorithmType == "AUTOMATIC"
        algorithm = item.SegmentationAlgorithmIdentificationSequence[0]
        assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("Liver and lesions", "3")
        assert algorithm.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
        assert MODEL.digest in str(algorithm.AlgorithmParameters)


def test_frames_are_stored_for_labelled_slices_only_each_at_its_source_slice(seg_bytes, series, labelled):
    seg = hd.seg.segread(io.BytesIO(seg_bytes))
    position = {ds.SOPInstanceUID: [float(v) for v in ds.ImagePositionPatient] for ds in series}
    expected = sum(int((labelled[z] == label).any()) for z in range(12) for label in (1, 2, 3))
    assert seg.NumberOfFrames == expected == 8  # liver on slices 3-7 and 10, the lesion on 5-6, no spleen
    frames = seg.PerFrameFunctionalGroupsSequence
    assert 3 not in {int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber) for f in frames}
    for frame in frames:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        frame_position = [float(v) for v in frame.PlanePositionSequence[0].ImagePositionPatient]
        assert frame_position == pytest.approx(position[source], abs=1e-4)


def test_the_seg_belongs_to_the_source_study_series_and_frame_of_reference(seg_bytes, series):
    seg = hd.seg.segread(io.BytesIO(seg_bytes))
    first = series[0]
    assert seg.StudyInstanceUID == first.StudyInstanceUID and seg.PatientID == first.PatientID
    assert seg.SeriesInstanceUID != first.SeriesInstanceUID
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID
    referenced = seg.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == first.SeriesInstanceUID
    assert {item.ReferencedSOPInstanceUID for item in referenced.ReferencedInstanceSequence} == \
        {ds.SOPInstanceUID for ds in series}
    assert (seg.Manufacturer, seg.ManufacturerModelName, seg.DeviceSerialNumber) == \
        ("MedCloudCare", "Liver and lesions", MODEL.digest)
    assert seg.SeriesDescription == "Liver and lesions v3 SEG" and seg.SeriesNumber == 900


def test_the_seg_passes_the_platforms_upload_validation(seg_bytes):
    ds = parse_part10(seg_bytes)
    check_instance(ds)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"  # Segmentation Storage


def test_an_empty_label_volume_is_one_empty_frame_per_segment(series, volume):
    seg = segmentation(series, LABELS, LabelVolume(np.zeros(volume.shape, np.uint8)), volume=volume,
                       algorithm=MODEL)
    read = hd.seg.segread(io.BytesIO(_written(seg)))
    assert read.NumberOfFrames == 3
    check_instance(parse_part10(_written(seg)))
    assert not read.get_pixels_by_source_instance([series[0].SOPInstanceUID], combine_segments=True,
                                                  skip_overlap_checks=True).any()


# ----------------------------------------------------------------------------------------------- refusals


def _refusal(series, volume: Volume, array: np.ndarray) -> str:
    with pytest.raises(ResultRefused) as refused:
        segmentation(series, LABELS, LabelVolume(array), volume=volume, algorithm=MODEL)
    return refused.value.reason


def _moved(volume: Volume, **changes) -> Volume:
    fields = {"spacing": volume.spacing, "origin": volume.origin, "direction": volume.direction, "modality": "CT"}
    return Volume(np.zeros(volume.shape, np.int16), **{**fields, **changes})


def test_a_label_volume_with_a_slice_missing_is_refused(series, volume, labelled):
    assert _refusal(series, volume, labelled[:-1]) == "the label volume has 11 slices; the series has 12"
    assert "the series has 11" in _refusal(series[1:], volume, labelled)


def test_a_label_volume_of_another_image_size_is_refused(series, volume, labelled):
    assert "the label volume has 39 columns; the series' images have 40 (Columns)" in \
        _refusal(series, volume, labelled[:, :, :-1])
    assert "has 31 rows" in _refusal(series, volume, labelled[:, :-1])


def test_a_volume_whose_origin_is_not_the_series_first_slice_is_refused(series, volume, labelled):
    x, y, z = volume.origin
    assert "across the slice axis" in _refusal(series, _moved(volume, origin=(x + 1.0, y, z)), labelled)
    half = volume.spacing[0] / 2
    assert "not on one of its 12 slices" in _refusal(series, _moved(volume, origin=(x, y, z + half)), labelled)


def test_a_volume_with_another_slice_spacing_is_refused(series, volume, labelled):
    spacing = (volume.spacing[0] * 2, *volume.spacing[1:])
    assert "not on one of its 12 slices" in _refusal(series, _moved(volume, spacing=spacing), labelled)


def test_a_volume_with_another_pixel_spacing_is_refused(series, volume, labelled):
    spacing = (volume.spacing[0], volume.spacing[1], volume.spacing[2] * 1.01)
    assert "PixelSpacing" in _refusal(series, _moved(volume, spacing=spacing), labelled)


def test_a_volume_with_rows_and_columns_swapped_is_refused(series, volume, labelled):
    swapped = volume.direction[[0, 2, 1]] * np.array([[-1], [1], [1]])  # still right-handed: y and x exchanged
    assert "ImageOrientationPatient's row direction" in \
        _refusal(series, _moved(volume, direction=swapped), labelled)


def test_two_instances_at_one_position_are_refused(series, volume, labelled):
    twin = parse_part10(to_bytes(series[4]))
    twin.SOPInstanceUID, twin.InstanceNumber = hd.UID(), 99
    assert "instance 99 and instance 5 both lie on slice 4" in \
        _refusal([*series[:5], twin, *series[6:]], volume, labelled)


def test_instances_of_two_series_are_refused(series, volume, labelled):
    other = ct_series(Patient(), slices=12, rows=32, columns=40)
    assert "differ in SeriesInstanceUID" in _refusal([*series[:6], *other[6:]], volume, labelled)


def test_label_values_beyond_the_tasks_labels_are_refused(series, volume, labelled):
    assert "values span 0..4" in _refusal(series, volume, np.where(labelled == 2, 4, labelled).astype(np.uint8))


def test_rounding_of_positions_is_not_a_disagreement(series, volume, labelled):
    x, y, z = volume.origin
    nudged = _moved(volume, origin=(x + 0.002, y - 0.002, z + 0.002))
    seg = segmentation(series, LABELS, LabelVolume(labelled), volume=nudged, algorithm=MODEL)
    assert seg.NumberOfFrames == 8


# ------------------------------------------------------------------------------------------------ timing


def test_a_200_slice_512_ct_with_60_labelled_slices_builds_in_seconds():
    series = ct_series(Patient(name="SEG^TIMING"), slices=200, rows=512, columns=512)
    volume = volume_from_datasets(sorted(series, key=lambda ds: float(ds.ImagePositionPatient[2])))
    array = np.zeros(volume.shape, np.uint8)
    array[70:130, 100:300, 120:330] = 1
    array[90:110, 300:360, 200:260] = 2
    started = time.perf_counter()
    seg = segmentation(series, LABELS, LabelVolume(array), volume=volume, algorithm=MODEL)
    built = time.perf_counter() - started
    assert seg.NumberOfFrames == 60 + 20
    assert built < 5.0, f"building the SEG took {built:.2f} s"


@pytest.mark.parametrize(("fields", "reason"), [
    ({"digest": "0123"}, "the bundle's SHA-256 as 64 lowercase hex digits"),
    ({"version": 0}, "the model version number"),
    ({"name": "x" * 65}, "1-64 characters"),
])
def test_an_algorithm_that_does_not_identify_a_model_version_is_refused(fields, reason):
    given = {"name": MODEL.name, "version": MODEL.version, "digest": MODEL.digest, **fields}
    with pytest.raises(ResultRefused, match=reason):
        AlgorithmInfo(**given)
