"""A segmentation model's label volume as a DICOM SEG of the series it was run on.

Every label the task declares is a segment, numbered as the task numbers it (segment i = label i), even when the
model found nothing of it: a reader then sees "Liver: empty" rather than wondering whether the model looks for a
liver at all, and segment numbers mean the same label in every result of the model. Only frames holding a labelled
pixel are stored (highdicom's omit_empty_frames), so an empty segment costs a description and no pixels; a label
volume with nothing in it becomes one empty frame per segment on the first slice, as a SEG holds at least one frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import highdicom as hd
from highdicom.color import CIELabColor
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from model_builder.labels import Label
from model_builder.outputs import LabelVolume
from model_builder.volume import Volume

from .algorithm import MANUFACTURER, AlgorithmInfo
from .coding import CODED_CATEGORY, UNCODED_CATEGORY, UNCODED_TYPE, check_labels, check_output, concept, label_dtype
from .errors import ResultRefused
from .geometry import source_in_volume_order

logger = logging.getLogger(__name__)

DEFAULT_SERIES_NUMBER = 900


def segmentation(
    source: Sequence[Dataset],
    labels: Sequence[Label],
    output: LabelVolume,
    *,
    volume: Volume,
    algorithm: AlgorithmInfo,
    series_number: int = DEFAULT_SERIES_NUMBER,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> hd.seg.Segmentation:
    """A binary DICOM SEG of `output` over `source`, one segment per label of the task; refuses a misfit first."""
    check_labels(labels)
    if not isinstance(output, LabelVolume):
        raise ResultRefused(f"segmentation() takes a LabelVolume, not a {type(output).__name__}")
    if not isinstance(volume, Volume) or not isinstance(algorithm, AlgorithmInfo):
        raise ResultRefused("volume must be the model's input Volume and algorithm an AlgorithmInfo")
    if not isinstance(series_number, int) or not 1 <= series_number <= 2**31 - 1:
        raise ResultRefused(f"series_number {series_number!r} must be a positive integer (DICOM IS)")
    shape = getattr(output.array, "shape", ())
    if len(shape) != 3:
        raise ResultRefused(f"the label volume must be 3-D (slices, rows, columns), got shape {shape}")
    ordered = source_in_volume_order(source, shape, volume)
    check_output(output, labels, volume)

    array = output.array.astype(label_dtype(len(labels)), copy=False)
    empty = not array.any()
    if empty:  # a SEG holds at least one frame: highdicom would store every empty frame of every segment
        ordered, array = ordered[:1], array[:1]
    started = time.perf_counter()
    descriptions = [_segment(number, label, algorithm) for number, label in enumerate(labels, start=1)]
    seg = hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=algorithm.name,
        software_versions=str(algorithm.version),
        device_serial_number=algorithm.digest,
        content_label="AI_SEGMENTATION",
        content_description=f"{algorithm.name} v{algorithm.version}"[:64],
        transfer_syntax_uid=ExplicitVRLittleEndian,
        omit_empty_frames=not empty,
    )
    seg.SeriesDescription = algorithm.series_description("SEG")
    logger.info("segmentation built", extra={"segments": len(descriptions), "frames": int(seg.NumberOfFrames),
                                              "seconds": round(time.perf_counter() - started, 3)})
    return seg


def _segment(number: int, label: Label, algorithm: AlgorithmInfo) -> hd.seg.SegmentDescription:
    """The segment of one label: its name, code (or the generic Tissue), colour and the model."""
    code = concept(label)
    return hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label.name,
        segmented_property_category=CODED_CATEGORY if code else UNCODED_CATEGORY,
        segmented_property_type=code or UNCODED_TYPE,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm.seg_identification(),
        display_color=CIELabColor.from_rgb(*label.colour) if label.colour else None,
    )

