"""volume_from_datasets: a series' instances in memory as a model's input, its grid checked and its geometry
that of DICOM (no services: generated series, oblique and flipped ones, compressed and multi-frame ones)."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series
from pydicom import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import JPEGLosslessSV1, RLELossless

from functions.common.dicom.volumes import (
    CannotDecode,
    MissingAttributes,
    NotARegularGrid,
    UnknownAttributes,
    volume_from_datasets,
)
from functions.common.dicom.volumes.assemble import series_layout
from functions.common.dicom.volumes.pixels import decoders_available, stored_frames
from functions.common.dicom.volumes.planes import planes_of
from functions.common.dicom.volumes.rescale import images_of, likely_dtype, stack, touched


def _ct(slices: int = 6, rows: int = 24, columns: int = 20) -> list[Dataset]:
    return ct_series(Patient(), slices=slices, rows=rows, columns=columns)


def _hu(ds: Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def _voxel_to_patient(volume, k: int, r: int, c: int) -> np.ndarray:
    steps = np.array([k, r, c], dtype=float) * np.asarray(volume.spacing)
    return np.asarray(volume.origin) + steps @ volume.direction


def _dicom_pixel_position(ds: Dataset, r: int, c: int) -> np.ndarray:
    """PS3.3 C.7.6.2.1.1: pixel (row r, column c) of an image in patient coordinates."""
    orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return (np.asarray(ds.ImagePositionPatient, dtype=float) + r * row_spacing * orientation[3:]
            + c * column_spacing * orientation[:3])


def _oblique_flipped(series: list[Dataset]) -> list[Dataset]:
    """The series rotated into an oblique plane whose column direction points backwards (a flipped image),
    each slice marked by its own pixel values, stored from the last slice to the first."""
    a, b = np.radians(30.0), np.radians(-20.0)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]) @ \
        np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    row, column = rot @ [1.0, 0, 0], rot @ [0, -1.0, 0]
    normal = np.cross(row, column)
    out = []
    for index, ds in enumerate(series):
        ds = copy.deepcopy(ds)
        ds.ImageOrientationPatient = [round(float(v), 8) for v in (*row, *column)]
        position = np.array([12.5, -40.0, 7.0]) - 3.0 * index * normal  # the stack runs against the normal
        ds.ImagePositionPatient = [round(float(v), 6) for v in position]
        pixels = ds.pixel_array.copy()
        pixels[0, 0] = index  # which instance a volume slice came from
        ds.PixelData = pixels.tobytes()
        out.append(ds)
    return out[::-1]


def test_a_shuffled_ct_is_sorted_along_the_normal_in_hu_with_each_slice_where_dicom_puts_it():
    series = _ct()
    shuffled = series[:]
    random.Random(3).shuffle(shuffled)
    for n, ds in enumerate(shuffled):  # instance numbers that contradict the positions: they must not matter
        ds.InstanceNumber = n + 1
    volume = volume_from_datasets(shuffled)
    assert volume.array.dtype == np.int16 and volume.shape == (6, 24, 20) and volume.modality == "CT"
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in series]))
    for k, ds in enumerate(series):
        assert np.allclose(_voxel_to_patient(volume, k, 0, 0), np.asarray(ds.ImagePositionPatient, dtype=float))
    assert volume.spacing == pytest.approx((2.5, float(series[0].PixelSpacing[0]), float(series[0].PixelSpacing[1])))


def test_an_oblique_flipped_series_maps_every_voxel_to_its_dicom_pixel_position():
    stored = _oblique_flipped(_ct())
    volume = volume_from_datasets(stored)
    by_index = {int(ds.pixel_array[0, 0]): ds for ds in stored}
    assert volume.spacing[0] == pytest.approx(3.0)
    for k in range(volume.shape[0]):
        ds = by_index[int(volume.array[k, 0, 0]) - int(stored[0].RescaleIntercept)]
        assert np.array_equal(volume.array[k, 1:], _hu(ds)[1:])
        for r, c in ((0, 0), (23, 0), (0, 19), (23, 19), (11, 7)):
            assert np.allclose(_voxel_to_patient(volume, k, r, c), _dicom_pixel_position(ds, r, c), atol=1e-4)
    assert np.allclose(volume.direction @ volume.direction.T, np.eye(3))


def test_a_missing_slice_is_refused_naming_the_gap():
    series = _ct(8)
    del series[4]
    with pytest.raises(NotARegularGrid) as refused:
        volume_from_datasets(series)
    assert refused.value.reason == "missing_slice" and "1 slice(s) missing" in refused.value.detail
    assert refused.value.status == 422


def test_mixed_orientations_are_refused():
    series = _ct()
    series[2].ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # a coronal image among axial ones
    with pytest.raises(NotARegularGrid) as refused:
        volume_from_datasets(series)
    assert refused.value.reason == "mixed_orientation"


@pytest.mark.parametrize(("change", "reason"), [
    (lambda s: s[3].__setattr__("ImagePositionPatient", list(s[2].ImagePositionPatient)), "duplicate_position"),
    (lambda s: s[3].__setattr__("ImagePositionPatient", [float(s[3].ImagePositionPatient[0]) + 5,
                                                         *s[3].ImagePositionPatient[1:]]), "tilted"),
    (lambda s: s[3].__setattr__("ImagePositionPatient", [*s[3].ImagePositionPatient[:2],
                                                         float(s[3].ImagePositionPatient[2]) + 1]),
     "irregular_spacing"),
    (lambda s: s[1].__setattr__("PixelSpacing", [0.5, 0.5]), "mixed_spacing"),
    (lambda s: s[1].__delattr__("ImagePositionPatient"), "no_geometry"),
    (lambda s: s[1].__setattr__("SeriesInstanceUID", "1.2.3.4"), "mixed_series"),
])
def test_what_is_not_one_regular_grid_is_refused_with_its_reason(change, reason):
    series = _ct()
    change(series)
    with pytest.raises(NotARegularGrid) as refused:
        volume_from_datasets(series)
    assert refused.value.reason == reason


def test_a_fractional_rescale_gives_float32_values():
    series = _ct(3)
    for ds in series:
        ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-10.25"
    volume = volume_from_datasets(series)
    assert volume.array.dtype == np.float32
    assert np.allclose(volume.array, np.stack([_hu(ds) for ds in series]))


def test_rle_compressed_instances_decode_to_the_same_volume():
    series = _ct(4)
    compressed = copy.deepcopy(series)
    for ds in compressed:
        ds.compress(RLELossless, generate_instance_uid=False)
    assert np.array_equal(volume_from_datasets(compressed).array, volume_from_datasets(series).array)


def test_an_enhanced_multi_frame_ct_gives_the_volume_of_its_single_frame_series():
    series = _ct(5)
    enhanced = copy.deepcopy(series[0])
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(enhanced, keyword)
    enhanced.NumberOfFrames = len(series)
    enhanced.PixelData = b"".join(ds.PixelData for ds in series[::-1])
    shared = Dataset()
    shared.PlaneOrientationSequence = DicomSequence([Dataset()])
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = series[0].ImageOrientationPatient
    shared.PixelMeasuresSequence = DicomSequence([Dataset()])
    shared.PixelMeasuresSequence[0].PixelSpacing = series[0].PixelSpacing
    enhanced.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for ds in series[::-1]:
        group = Dataset()
        group.PlanePositionSequence = DicomSequence([Dataset()])
        group.PlanePositionSequence[0].ImagePositionPatient = ds.ImagePositionPatient
        frames.append(group)
    enhanced.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    single, multi = volume_from_datasets(series), volume_from_datasets([enhanced])
    assert np.array_equal(multi.array, single.array)
    assert multi.origin == single.origin and multi.spacing == single.spacing
    assert np.allclose(multi.direction, single.direction)


def test_a_multi_frame_instance_without_per_frame_positions_is_refused():
    series = _ct(2)
    ds = series[0]
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2
    with pytest.raises(NotARegularGrid) as refused:
        volume_from_datasets([ds])
    assert refused.value.reason == "no_geometry" and "PerFrameFunctionalGroupsSequence" in refused.value.detail


def test_asked_attributes_come_with_the_volume_and_absent_ones_are_named():
    series = _ct(3)
    for ds in series:
        ds.PatientAge = "056Y"
    volume = volume_from_datasets(series, attributes=["PatientAge", "PatientSex", "SliceThickness", "PixelSpacing"])
    assert volume.attributes == {"PatientAge": "056Y", "PatientSex": "F", "SliceThickness": 2.5,
                                 "PixelSpacing": [float(v) for v in series[0].PixelSpacing]}
    with pytest.raises(MissingAttributes) as missing:
        volume_from_datasets(series, attributes=["PatientAge", "PatientWeight", "PatientSize"])
    assert missing.value.keywords == ["PatientWeight", "PatientSize"] and "PatientWeight" in missing.value.detail


def test_attributes_that_are_not_keywords_are_refused_before_any_work():
    with pytest.raises(UnknownAttributes) as unknown:
        volume_from_datasets([], attributes=["PatientAgee", "PixelData", "PatientAge"])
    assert unknown.value.keywords == ["PatientAgee", "PixelData"]


def test_jpeg_lossless_without_its_decoder_is_refused_naming_what_to_install():
    (ds,) = _ct(1)
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1  # pydicom needs pylibjpeg or gdcm for it, neither installed
    if not any(p.startswith("missing") for p in decoders_available([JPEGLosslessSV1])[JPEGLosslessSV1.name]):
        pytest.fail("a JPEG Lossless decoder is installed now: turn this test into a decoding one")
    with pytest.raises(CannotDecode) as refused:
        volume_from_datasets([ds])
    assert "JPEG Lossless" in refused.value.detail and any("pylibjpeg" in m for m in refused.value.missing)


def test_stored_values_beyond_int16_after_the_rescale_keep_their_exact_values():
    series = _ct(3)
    for k, ds in enumerate(series):  # unsigned 16-bit values above 32767, brought into int16 by the intercept
        pixels = ds.pixel_array.astype(np.uint16)
        pixels[0, 0] = 40000 + k
        ds.BitsStored, ds.HighBit, ds.RescaleIntercept = 16, 15, "-32768"
        ds.PixelData = pixels.tobytes()
    volume = volume_from_datasets(series)
    assert volume.array.dtype == np.int16
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in series]))
    assert [int(v) for v in volume.array[:, 0, 0]] == [40000 - 32768 + k for k in range(3)]


def test_values_that_do_not_fit_int16_give_a_float32_volume_exact_on_every_slice():
    series = _ct(3)
    pixels = series[1].pixel_array.copy()
    pixels[0, 0] = 4095
    series[1].PixelData = pixels.tobytes()
    series[1].RescaleSlope = "10"  # 4095 * 10 - 1024 is beyond int16: that slice, so the volume, is float32
    volume = volume_from_datasets(series)
    assert volume.array.dtype == np.float32
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in series]).astype(np.float32))


def test_signed_stored_values_are_rescaled_as_signed():
    series = _ct(2)
    for ds in series:
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit, ds.RescaleIntercept = 1, 16, 15, "0"
        ds.PixelData = (ds.pixel_array.astype(np.int16) - 2000).tobytes()
    volume = volume_from_datasets(series)
    assert volume.array.dtype == np.int16 and volume.array.min() < 0
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in series]))


def test_the_volume_is_rescaled_into_the_array_prepared_for_it_when_it_fits():
    series = _ct(4)
    planes = [planes_of(ds, n) for n, ds in enumerate(series)]
    grid = series_layout(series, planes)
    images = [images_of(of, stored_frames(ds)) for of, ds in zip(planes, series, strict=True)]
    prepared = touched((4, 24, 20), likely_dtype(planes[0][0]))
    assert stack(grid, images, out=prepared) is prepared
    assert np.array_equal(prepared, volume_from_datasets(series).array)
    wrong = touched((4, 24, 20), np.dtype(np.float32))  # the first slice foretold wrong: a new array, same values
    assert stack(grid, images, out=wrong) is not wrong and np.array_equal(stack(grid, images, out=wrong), prepared)
