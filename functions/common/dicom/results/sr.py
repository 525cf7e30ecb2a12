"""Classification, detection and localisation outputs as TID 1500 measurement reports (Comprehensive 3D SR).

Two reports, because OHIF 3.13 reads every measurement group of a report as something to place on an image and
stops at the first group without coordinates (docs/viewer-ai.md, "Reports (SR) in OHIF"):

- `report()`, the findings: one TID 1410 group per box or point, its region a 2-D SCOORD on the source image it lies
  on (a box: the closed outline of its voxels' outer edges on its centre slice, with its extent across slices as a
  "Depth" in mm; a point: its voxel centre on the nearest slice), the form OHIF's SR viewport opens on that image
  and draws.
- `score_report()`, the scores: one image-level TID 1501 group per label, its probability (DCM 122157, UCUM "1").

Both name the label's code as the finding type, the model as each group's algorithm and as the observer device.
Patient coordinates are not repeated as SCOORD3D: OHIF would place those instead of the 2-D regions; they are in the
job's JSON summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import highdicom as hd
from highdicom.sr import (
    ImageRegion,
    Measurement,
    MeasurementsAndQualitativeEvaluations,
    PlanarROIMeasurementsAndQualitativeEvaluations,
    SourceImageForRegion,
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
from .geometry import source_in_volume_order
from .regions import Region, box_region, point_region

logger = logging.getLogger(__name__)

DEFAULT_SERIES_NUMBER = 901
DEFAULT_SCORES_SERIES_NUMBER = 902
_PROCEDURES = {"CT": codes.LN.CTUnspecifiedBodyRegion, "MR": codes.LN.MRIUnspecifiedBodyRegion}


def report(
    source: Sequence[Dataset],
    labels: Sequence[Label],
    outputs: Sequence[Boxes | Points],
    *,
    volume: Volume,
    algorithm: AlgorithmInfo,
    series_number: int = DEFAULT_SERIES_NUMBER,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """The findings report: each box and point on the image it lies on; refuses outputs that do not fit first."""
    ordered = _checked(source, labels, outputs, (Boxes, Points), volume, algorithm, series_number,
                       "report() takes Boxes and Points; Scores go to score_report(), a LabelVolume to "
                       "segmentation()")
    groups: list = []
    for output in outputs:
        if isinstance(output, Boxes):
            groups.extend(_box(i, box, labels[box.label - 1], ordered, volume, algorithm)
                          for i, box in enumerate(output.boxes, 1))
        else:
            groups.extend(_point(i, point, labels[point.label - 1], ordered, algorithm)
                          for i, point in enumerate(output.points, 1))
    return _document(ordered, groups, algorithm, "SR", series_number, series_instance_uid, sop_instance_uid)


def score_report(
    source: Sequence[Dataset],
    labels: Sequence[Label],
    scores: Scores,
    *,
    volume: Volume,
    algorithm: AlgorithmInfo,
    series_number: int = DEFAULT_SCORES_SERIES_NUMBER,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> hd.sr.Comprehensive3DSR:
    """The scores report: the probability of each label for the whole series (TID 1501), nothing to draw."""
    ordered = _checked(source, labels, [scores], (Scores,), volume, algorithm, series_number,
                       "score_report() takes one Scores; Boxes and Points go to report()")
    groups = [_score(label, float(scores.scores[label.name]), algorithm) for label in labels]
    return _document(ordered, groups, algorithm, "SR scores", series_number, series_instance_uid,
                     sop_instance_uid)


def _checked(source: Sequence[Dataset], labels: Sequence[Label], outputs: Sequence[Output], kinds: tuple[type, ...],
             volume: Volume, algorithm: AlgorithmInfo, series_number: int, wrong_kind: str) -> list[Dataset]:
    """The source in the volume's slice order, once every argument is known to fit."""
    check_labels(labels)
    if not isinstance(volume, Volume) or not isinstance(algorithm, AlgorithmInfo):
        raise ResultRefused("volume must be the model's input Volume and algorithm an AlgorithmInfo")
    if not isinstance(outputs, Sequence) or not outputs:
        raise ResultRefused("outputs must list at least one Boxes or Points")
    for output in outputs:
        if not isinstance(output, kinds):
            raise ResultRefused(f"{wrong_kind}, not {type(output).__name__}")
        check_output(output, labels, volume)
    if not isinstance(series_number, int) or not 1 <= series_number <= 2**31 - 1:
        raise ResultRefused(f"series_number {series_number!r} must be a positive integer (DICOM IS)")
    return source_in_volume_order(source, volume.shape, volume)


def _document(ordered: list[Dataset], groups: list, algorithm: AlgorithmInfo, kind: str, series_number: int,
              series_instance_uid: str | None, sop_instance_uid: str | None) -> hd.sr.Comprehensive3DSR:
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
    sr.SeriesDescription = algorithm.series_description(kind)
    logger.info("report built", extra={"kind": kind, "groups": len(groups)})
    return sr


def _probability(score: float) -> Measurement:
    """A probability; the model is named once, on its group."""
    return Measurement(name=codes.DCM.Probability, value=score, unit=codes.UCUM.NoUnits)


def _image_region(region: Region) -> ImageRegion:
    return ImageRegion(region.graphic_type, region.pixels, SourceImageForRegion.from_source_image(region.image))


def _score(label: Label, score: float, algorithm: AlgorithmInfo) -> MeasurementsAndQualitativeEvaluations:
    """The probability of one label for the whole series (TID 1501)."""
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} score"[:64]),
        finding_type=finding_type(label), algorithm_id=algorithm.sr_identification(),
        measurements=[_probability(score)])


def _box(number: int, box: Box, label: Label, ordered: list[Dataset], volume: Volume,
         algorithm: AlgorithmInfo) -> PlanarROIMeasurementsAndQualitativeEvaluations:
    region = box_region(box, ordered)
    depth = (int(box.end[0]) - int(box.start[0]) + 1) * volume.spacing[0]
    measurements = [Measurement(name=codes.SCT.Depth, value=depth, unit=codes.UCUM.Millimeter)]
    if box.score is not None:
        measurements.insert(0, _probability(float(box.score)))
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} box {number}"[:64]),
        referenced_region=_image_region(region), finding_type=finding_type(label),
        algorithm_id=algorithm.sr_identification(), measurements=measurements)


def _point(number: int, point: Point, label: Label, ordered: list[Dataset],
           algorithm: AlgorithmInfo) -> PlanarROIMeasurementsAndQualitativeEvaluations:
    region = point_region(point, ordered)
    measurements = None if point.score is None else [_probability(float(point.score))]
    return PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=hd.UID(), identifier=f"{label.name} point {number}"[:64]),
        referenced_region=_image_region(region), finding_type=finding_type(label),
        algorithm_id=algorithm.sr_identification(), measurements=measurements)
