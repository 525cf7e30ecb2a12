"""Scores, boxes and points become a TID 1500 measurement report (Comprehensive 3D SR) of their series, read back
with highdicom; coordinates are checked against the series' own DICOM geometry, not the code's arithmetic."""

from __future__ import annotations

import io

import highdicom as hd
import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom.sr.codedict import codes

from functions.common.dicom.results import AlgorithmInfo, ResultRefused, report
from functions.common.dicom.validation import check_instance, parse_part10
from model_builder import Box, Boxes, Code, Label, LabelVolume, Point, Points, Scores
from model_builder.samples.synthetic_ct import volume_from_datasets

NODULE = Label("Nodule", Code("27925004", "SCT", "Nodule"), (255, 0, 0))
CARINA = Label("Carina")  # no code: the generic finding type
LABELS = (NODULE, CARINA)
MODEL = AlgorithmInfo("Chest findings", 2, "fedcba9876543210" * 4)
OUTPUTS = (Scores({"Nodule": 0.875, "Carina": 0.25}),
           Boxes((Box(1, (2, 3, 4), (5, 10, 12), 0.75), Box(1, (7, 0, 0), (7, 1, 1)))),
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


def test_scores_are_probabilities_one_finding_per_label(content):
    groups = content.get_image_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["Nodule score", "Carina score"]
    nodule, carina = groups
    assert (nodule.finding_type.value, nodule.finding_type.scheme_designator) == ("27925004", "SCT")
    assert carina.finding_type == codes.SCT.ClinicalFinding
    for group, expected in ((nodule, 0.875), (carina, 0.25)):
        (probability,) = group.get_measurements(name=codes.DCM.Probability)
        assert probability.value == pytest.approx(expected)
        assert (probability.unit.value, probability.unit.scheme_designator) == ("1", "UCUM")


def test_a_box_is_its_outline_on_its_centre_slice_in_patient_coordinates(content, series):
    first, second, _point = content.get_planar_roi_measurement_groups()
    assert first.tracking_identifier == "Nodule box 1" and first.finding_type.value == "27925004"
    region = first.roi
    assert region.graphic_type == hd.sr.GraphicTypeValues3D.POLYLINE
    assert region.frame_of_reference_uid == series[0].FrameOfReferenceUID
    corners = [_at(series, 3, 2.5, 3.5), _at(series, 3, 2.5, 12.5), _at(series, 3, 10.5, 12.5),
               _at(series, 3, 10.5, 3.5), _at(series, 3, 2.5, 3.5)]  # slice 3 = (2 + 5) // 2, voxel edges
    np.testing.assert_allclose(region.value, np.array(corners), atol=1e-3)
    centre_slice_z = float(series[3].ImagePositionPatient[2])
    assert np.allclose(region.value[:, 2], centre_slice_z)  # on an image of the series, where a viewer draws it
    measurements = {m.name.meaning: (m.value, m.unit.value) for m in first.get_measurements()}
    assert measurements == {"Probability": (pytest.approx(0.75), "1"),
                            "Depth": (pytest.approx(4 * float(series[0].SliceThickness)), "mm")}
    assert [m.name.meaning for m in second.get_measurements()] == ["Depth"]  # a box without a score


def test_a_point_is_a_scoord3d_point_in_patient_coordinates(content, series):
    point = content.get_planar_roi_measurement_groups()[2]
    assert point.tracking_identifier == "Carina point 1" and point.finding_type == codes.SCT.ClinicalFinding
    assert point.roi.graphic_type == hd.sr.GraphicTypeValues3D.POINT
    assert point.roi.frame_of_reference_uid == series[0].FrameOfReferenceUID
    np.testing.assert_allclose(point.roi.value, [_at(series, 1.5, 2.0, 3.25)], atol=1e-3)
    assert point.get_measurements(name=codes.DCM.Probability)[0].value == pytest.approx(0.5)


def test_every_finding_names_the_model_and_the_model_is_the_observer(content):
    for group in [*content.get_image_measurement_groups(), *content.get_planar_roi_measurement_groups()]:
        assert _text(group, codes.DCM.AlgorithmName) == "Chest findings"
        assert _text(group, codes.DCM.AlgorithmVersion) == "2"
        assert MODEL.digest in _text(group, codes.DCM.AlgorithmParameters)
    (observer,) = content.get_observer_contexts()
    assert observer.observer_type == codes.DCM.Device
    device = observer.observer_identifying_attributes
    assert device.uid == MODEL.device_uid == AlgorithmInfo("Renamed", 9, MODEL.digest).device_uid
    assert (device.name, device.model_name, device.serial_number) == ("Chest findings", "Chest findings v2",
                                                                     MODEL.digest)


def test_the_report_references_its_series_and_passes_upload_validation(sr_bytes, series):
    ds = parse_part10(sr_bytes)
    check_instance(ds)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR Storage
    assert ds.StudyInstanceUID == series[0].StudyInstanceUID and ds.PatientID == series[0].PatientID
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == series[0].SeriesInstanceUID
    assert len(evidence.ReferencedSOPSequence) == len(series)
    assert (ds.CompletionFlag, ds.VerificationFlag, ds.PreliminaryFlag) == ("COMPLETE", "UNVERIFIED", "PRELIMINARY")
    assert ds.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ImagingMeasurementReport.value
    assert ds.SeriesDescription == "Chest findings v2 SR" and ds.SeriesNumber == 901


@pytest.mark.parametrize(("outputs", "reason"), [
    ((Boxes((Box(3, (0, 0, 0), (1, 1, 1)),)),), "label 3 is not a label index of the task"),
    ((Points((Point(1, (10.0, 0.0, 0.0)),)),), "axis z: 10.0 is outside the volume"),
    ((Scores({"Nodule": 0.5, "Mass": 0.5}),), "unknown: ['Mass'], missing: ['Carina']"),
    ((LabelVolume(np.zeros((10, 24, 20), np.uint8)),), "a LabelVolume goes to segmentation()"),
    ((), "at least one Scores, Boxes or Points"),
])
def test_outputs_that_do_not_fit_the_task_are_refused(series, volume, outputs, reason):
    with pytest.raises(ResultRefused, match=reason.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        report(series, LABELS, outputs, volume=volume, algorithm=MODEL)


def test_a_report_on_another_series_geometry_is_refused(series, volume):
    with pytest.raises(ResultRefused, match="the label volume has 10 slices; the series has 9"):
        report(series[:-1], LABELS, OUTPUTS, volume=volume, algorithm=MODEL)
