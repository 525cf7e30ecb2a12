"""Classification, detection and localisation outputs as a TID 1500 measurement report (Comprehensive 3D SR).

One measurement group per finding, its finding type the label's code, its algorithm the model, the model the
report's observer device. Scores are numeric probabilities (DCM 122157 "Probability", UCUM "1"), one image-level
group per label (TID 1501). A point is a SCOORD3D POINT; a box is a SCOORD3D closed POLYLINE, the outline of the
box on its centre slice at the voxels' outer edges, with its extent across slices as a "Depth" in mm (TID 1410):
OHIF's SR viewport draws SCOORD3D points and polylines on the image whose plane holds them, and has nothing to draw
an ellipsoid or a point cloud with. Coordinates are patient LPS mm in the series' frame of reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from highdicom.sr import (
    ImageRegion3D,
    Measurement,
    MeasurementsAndQualitativeEvaluations,
    PlanarROIMeasurementsAndQualitativeEvaluations,
    TrackingIdentifier,
)
from pydicom import Dataset
from pydicom.sr.codedict import codes

from model_builder.labels import Label
from model_builder.outputs import Box, Boxes, Output, Point, Points, Scores
from model_builder.volume import Volume

from .algorithm import MANUFACTURER, AlgorithmInfo
from .coding import check_labels, check_output, finding_type
from .errors import ResultRefused
from .geometry import source_in_volume_order, to_patient

DEFAULT_SERIES_NUMBER = 901
_PROCEDURES = {"CT": codes.LN.CTUnspecifiedBodyRegion, "MR": codes.LN.MRIUnspecifiedBodyRegion}


def report(
    source: Sequence[Dataset],
    labels: Sequence[Label],
    outputs: Sequence[Scores | Boxes | Points],
    *,
    volume: Volume,
    algorithm: AlgorithmInfo,
    series_number: int = DEFAULT_SERIES_NUMBER,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """A Comprehensive 3D SR of the model's findings over `source`; refuses outputs that do not fit first."""
    check_labels(labels)
    if not isinstance(volume, Volume) or not isinstance(algorithm, AlgorithmInfo):
        raise ResultRefused("volume must be the model's input Volume and algorithm an AlgorithmInfo")
    if not isinstance(outputs, Sequence) or not outputs:
        raise ResultRefused("outputs must list at least one Scores, Boxes or Points")
    for output in outputs:
        if not isinstance(output, Scores | Boxes | Points):
            raise ResultRefused(f"report() takes Scores, Boxes and Points, not {type(output).__name__}: a LabelVolume "
                                "goes to segmentation()")
        check_output(output, labels, volume)
    if not isinstance(series_number, int) or not 1 <= series_number <= 2**31 - 1:
        raise ResultRefused(f"series_number {series_number!r} must be a positive integer (DICOM IS)")
    ordered = source_in_volume_order(source, volume.shape, volume)

    frame = str(ordered[0].FrameOfReferenceUID)
    groups: list = []
    for output in outputs:
        groups.extend(_groups(output, labels, volume, algorithm, frame))
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=algorithm.observer()),
        procedure_reported=_PROCEDURES.get(str(ordered[0].get("Modality", "")), codes.SCT.ImagingProcedure),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=ordered, content=content, series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number, sop_instance_uid=sop_instance_uid or hd.UID(), instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, is_final=False,  # a model's findings, not yet read by a person
    )
    sr.SeriesDescription = algorithm.series_description("SR")
    return sr


def _groups(output: Output, labels: Sequence[Label], volume: Volume, algorithm: AlgorithmInfo, frame: str) -> list:
    if isinstance(output, Scores):
        return [_score(label, float(output.scores[label.name]), algorithm) for label in labels]
    if isinstance(output, Boxes):
        return [_box(i, box, labels[box.label - 1], volume, algorithm, frame) for i, box in enumerate(output.boxes, 1)]
    assert isinstance(output, Points)
    return [_point(i, point, labels[point.label - 1], volume, algorithm, frame)
            for i, point in enumerate(output.points, 1)]


def _probability(score: float) -> Measurement:
    """A probability; the model is named once, on its group."""
    return Measurement(name=codes.DCM.Probability, value=score, unit=codes.UCUM.NoUnits)


def _score(label: Label, score: float, algorithm: AlgorithmInfo) -> MeasurementsAndQualitativeEvaluations:
    """The probability of one label for the whole series (TID 1501)."""
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} score"[:64]),
        finding_type=finding_type(label), algorithm_id=algorithm.sr_identification(),
        measurements=[_probability(score)])


def box_outline(box: Box, volume: Volume) -> np.ndarray:
    """The box's outline on its centre slice, around the outer edges of its voxels: a closed 5-point polyline (LPS)."""
    z = (box.start[0] + box.end[0]) // 2  # a slice of the series, so a viewer finds an image holding the outline
    (y0, x0), (y1, x1) = (np.asarray(box.start[1:]) - 0.5), (np.asarray(box.end[1:]) + 0.5)
    return to_patient(volume, [(z, y0, x0), (z, y0, x1), (z, y1, x1), (z, y1, x0), (z, y0, x0)])


def _box(number: int, box: Box, label: Label, volume: Volume, algorithm: AlgorithmInfo,
         frame: str) -> PlanarROIMeasurementsAndQualitativeEvaluations:
    depth = (box.end[0] - box.start[0] + 1) * volume.spacing[0]
    measurements = [Measurement(name=codes.SCT.Depth, value=depth, unit=codes.UCUM.Millimeter)]
    if box.score is not None:
        measurements.insert(0, _probability(float(box.score)))
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} box {number}"[:64]),
        referenced_region=ImageRegion3D("POLYLINE", box_outline(box, volume), frame),
        finding_type=finding_type(label), algorithm_id=algorithm.sr_identification(), measurements=measurements)


def _point(number: int, point: Point, label: Label, volume: Volume, algorithm: AlgorithmInfo,
           frame: str) -> PlanarROIMeasurementsAndQualitativeEvaluations:
    measurements = [] if point.score is None else [_probability(float(point.score))]
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} point {number}"[:64]),
        referenced_region=ImageRegion3D("POINT", to_patient(volume, [point.position]), frame),
        finding_type=finding_type(label), algorithm_id=algorithm.sr_identification(),
        measurements=measurements or None)
