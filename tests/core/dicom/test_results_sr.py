"""Boxes and points become a TID 1500 report of findings drawn on the series' own images (2-D SCOORD on the source
instance), scores a separate TID 1500 report; both read back with highdicom, coordinates checked against the series'
own DICOM attributes, not the code's arithmetic."""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom.sr.codedict import codes

from functions.common.dicom.results import AlgorithmInfo, ResultRefused, report, score_report
from functions.common.dicom.validation import check_instance, parse_part10
from model_builder import Box, Boxes, Code, Label, LabelVolume, Point, Points, Scores
from model_builder.samples.synthetic_ct import volume_from_datasets

NODULE = Label("Nodule", Code("27925004", "SCT", "Nodule"), (255, 0, 0))
CARINA = Label("Carina")  # no code: the generic finding type
LABELS = (NODULE, CARINA)
MODEL = AlgorithmInfo("Chest findings", 2, "fedcba9876543210" * 4)
SCORES = Scores({"Nodule": 0.875, "Carina": 0.25})
OUTPUTS = (Boxes((Box(1, (2, 3, 4), (5, 10, 12), 0.75), Box(1, (7, 0, 0), (7, 1, 1)))),
           Points((Point(2, (1.5, 2.0, 3.25), 0.5),)))


@pytest.fixture(scope="module")
def series():
    datasets = [parse_part10(to_bytes(ds)) for ds in ct_series(Patient(name="SR^RESULT"), slices=10, rows=24,
                                                                   columns=20)]
    return sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))


@pytest.fixture(scope="module")
def volume(series):
    return volume_from_datasets(series)


@pytest.fixture(scope="module")
def sr_bytes(series, volume) -> bytes:
    buffer = io.BytesIO()
    report(series[::-1], LABELS, OUTPUTS, volume=volume, algorithm=MODEL).save_as(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def content(sr_bytes):
    return hd.sr.srread(io.BytesIO(sr_bytes)).content


@pytest.fixture(scope="module")
def scores_bytes(series, volume) -> bytes:
    buffer = io.BytesIO()
    score_report(series, LABELS, SCORES, volume=volume, algorithm=MODEL).save_as(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def scores(scores_bytes):
    return hd.sr.srread(io.BytesIO(scores_bytes)).content


def _at(series, z: float, y: float, x: float) -> np.ndarray:
    """Where voxel (z, y, x) is in patient space, from the DICOM attributes alone."""
    first, second = (np.array([float(v) for v in ds.ImagePositionPatient]) for ds in series[:2])
    orientation = np.array([float(v) for v in series[0].ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in series[0].PixelSpacing)
    return first + z * (second - first) + x * column_spacing * orientation[:3] + y * row_spacing * orientation[3:]


def _text(group, concept) -> str:
    """The text of the group's child item named `concept`."""
    (value,) = [str(item.TextValue) for item in group[0].ContentSequence
                if item.ConceptNameCodeSequence[0].CodeValue == concept.value and "TextValue" in item]
    return value


def test_scores_are_probabilities_one_finding_per_label_in_their_own_report(scores, content):
    groups = scores.get_image_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["Nodule score", "Carina score"]
    assert not scores.get_planar_roi_measurement_groups()
    nodule, carina = groups
    assert (nodule.finding_type.value, nodule.finding_type.scheme_designator) == ("27925004", "SCT")
    assert carina.finding_type == codes.SCT.ClinicalFinding
    for group, expected in ((nodule, 0.875), (carina, 0.25)):
        (probability,) = group.get_measurements(name=codes.DCM.Probability)
        assert probability.value == pytest.approx(expected)
        assert (probability.unit.value, probability.unit.scheme_designator) == ("1", "UCUM")
    # Every group of the findings report has a region: OHIF stops reading a report at a group without one.
    assert not content.get_image_measurement_groups()
    assert all(group.roi is not None for group in content.get_planar_roi_measurement_groups())


def _pixel(ds, at: np.ndarray) -> tuple[float, float]:
    """Where patient point `at` lies on instance `ds`, in DICOM pixel coordinates (column, row), (0, 0) being the top
    left corner of the top left pixel: from ds's own position, orientation and spacing."""
    orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    offset = at - np.array([float(v) for v in ds.ImagePositionPatient])  # from the first pixel's centre
    assert abs(offset @ np.cross(orientation[:3], orientation[3:])) < 1e-3, "the point is not on this image"
    return offset @ orientation[:3] / column_spacing + 0.5, offset @ orientation[3:] / row_spacing + 0.5


def test_a_box_is_its_outline_at_its_voxels_edges_on_its_centre_slice_image(content, series):
    first, second, _point = content.get_planar_roi_measurement_groups()
    assert first.tracking_identifier == "Nodule box 1" and first.finding_type.value == "27925004"
    region = first.roi
    assert region.value_type == hd.sr.ValueTypeValues.SCOORD
    assert region.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    image = series[3]  # slice 3 = (2 + 5) // 2, by position in the series
    (reference,) = region.ContentSequence[0].ReferencedSOPSequence
    assert (reference.ReferencedSOPInstanceUID, reference.ReferencedSOPClassUID) == (image.SOPInstanceUID,
                                                                                     image.SOPClassUID)
    # The voxels' outer edges (index ± 0.5) where the series puts them, as pixel coordinates of that image.
    corners = [_pixel(image, _at(series, 3, y, x))
               for y, x in ((2.5, 3.5), (2.5, 12.5), (10.5, 12.5), (10.5, 3.5), (2.5, 3.5))]
    np.testing.assert_allclose(region.value, corners, atol=1e-3)
    np.testing.assert_allclose(region.value, [(4, 3), (13, 3), (13, 11), (4, 11), (4, 3)], atol=1e-6)
    measurements = {m.name.meaning: (m.value, m.unit.value) for m in first.get_measurements()}
    assert measurements == {"Probability": (pytest.approx(0.75), "1"),
                            "Depth": (pytest.approx(4 * float(series[0].SliceThickness)), "mm")}
    assert [m.name.meaning for m in second.get_measurements()] == ["Depth"]  # a box without a score
    assert second.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == series[7].SOPInstanceUID


def test_a_point_is_its_voxel_centre_on_the_nearest_slice_image(content, series):
    point = content.get_planar_roi_measurement_groups()[2]
    assert point.tracking_identifier == "Carina point 1" and point.finding_type == codes.SCT.ClinicalFinding
    assert point.roi.value_type == hd.sr.ValueTypeValues.SCOORD
    assert point.roi.graphic_type == hd.sr.GraphicTypeValues.POINT
    image = series[2]  # z = 1.5: halfway between slices 1 and 2, drawn on the nearer-rounded 2
    assert point.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == image.SOPInstanceUID
    np.testing.assert_allclose(point.roi.value, [_pixel(image, _at(series, 2, 2.0, 3.25))], atol=1e-3)
    np.testing.assert_allclose(point.roi.value, [(3.75, 2.5)], atol=1e-6)
    assert point.get_measurements(name=codes.DCM.Probability)[0].value == pytest.approx(0.5)


def test_every_finding_names_the_model_and_the_model_is_the_observer(content, scores):
    for group in [*scores.get_image_measurement_groups(), *content.get_planar_roi_measurement_groups()]:
        assert _text(group, codes.DCM.AlgorithmName) == "Chest findings"
        assert _text(group, codes.DCM.AlgorithmVersion) == "2"
        assert MODEL.digest in _text(group, codes.DCM.AlgorithmParameters)
    (observer,) = content.get_observer_contexts()
    assert scores.get_observer_contexts()[0].observer_identifying_attributes.uid == MODEL.device_uid
    assert observer.observer_type == codes.DCM.Device
    device = observer.observer_identifying_attributes
    assert device.uid == MODEL.device_uid == AlgorithmInfo("Renamed", 9, MODEL.digest).device_uid
    assert (device.name, device.model_name, device.serial_number) == ("Chest findings", "Chest findings v2",
                                                                     MODEL.digest)


@pytest.mark.parametrize(("fixture", "description", "number"), [("sr_bytes", "Chest findings v2 SR", 901),
                                                               ("scores_bytes", "Chest findings v2 SR scores", 902)])
def test_each_report_references_its_series_and_passes_upload_validation(request, fixture, description, number,
                                                                        series):
    ds = parse_part10(request.getfixturevalue(fixture))
    check_instance(ds)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR Storage
    assert ds.StudyInstanceUID == series[0].StudyInstanceUID and ds.PatientID == series[0].PatientID
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == series[0].SeriesInstanceUID
    assert len(evidence.ReferencedSOPSequence) == len(series)
    assert (ds.CompletionFlag, ds.VerificationFlag, ds.PreliminaryFlag) == ("COMPLETE", "UNVERIFIED", "PRELIMINARY")
    assert ds.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ImagingMeasurementReport.value
    assert ds.SeriesDescription == description and ds.SeriesNumber == number


@pytest.mark.parametrize(("outputs", "reason"), [
    ((Boxes((Box(3, (0, 0, 0), (1, 1, 1)),)),), "label 3 is not a label index of the task"),
    ((Points((Point(1, (10.0, 0.0, 0.0)),)),), "axis z: 10.0 is outside the volume"),
    ((LabelVolume(np.zeros((10, 24, 20), np.uint8)),), "a LabelVolume to segmentation(), not LabelVolume"),
    ((SCORES,), "Scores go to score_report()"),
    ((), "at least one Boxes or Points"),
])
def test_outputs_that_do_not_fit_the_task_are_refused(series, volume, outputs, reason):
    with pytest.raises(ResultRefused, match=_escaped(reason)):
        report(series, LABELS, outputs, volume=volume, algorithm=MODEL)


@pytest.mark.parametrize(("scores", "reason"), [
    (Scores({"Nodule": 0.5, "Mass": 0.5}), "unknown: ['Mass'], missing: ['Carina']"),
    (Boxes((Box(1, (0, 0, 0), (1, 1, 1)),)), "score_report() takes one Scores"),
])
def test_scores_that_do_not_fit_the_task_are_refused(series, volume, scores, reason):
    with pytest.raises(ResultRefused, match=_escaped(reason)):
        score_report(series, LABELS, scores, volume=volume, algorithm=MODEL)


def _escaped(text: str) -> str:
    return text.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")


def test_a_report_on_another_series_geometry_is_refused(series, volume):
    with pytest.raises(ResultRefused, match="the label volume has 10 slices; the series has 9"):
        report(series[:-1], LABELS, OUTPUTS, volume=volume, algorithm=MODEL)
