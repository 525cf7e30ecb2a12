"""The AI panel's summary: per label its volume in mL, its score, its boxes and points in voxel and patient
coordinates, all plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from functions.common.dicom.results import ResultRefused, summary
from model_builder import Box, Boxes, Code, ImageOutput, Label, LabelVolume, Point, Points, Scores, Volume

LABELS = (Label("Kidney", Code("64033007", "SCT", "Kidney"), (185, 102, 83)), Label("Cyst"), Label("Stone"))
# A sagittal series: slices step along patient x, rows run towards the feet, columns towards posterior.
SAGITTAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
VOLUME = Volume(np.zeros((6, 8, 10), np.int16), spacing=(3.0, 0.5, 0.8), origin=(-20.0, 5.0, 40.0),
                direction=SAGITTAL, modality="MR")


def _patient(z: float, y: float, x: float) -> list[float]:
    """Voxel (z, y, x) of VOLUME in LPS mm, worked out by hand from its axes."""
    return [-20.0 + 3.0 * z, 5.0 + 0.8 * x, 40.0 - 0.5 * y]


def test_label_volumes_are_counted_in_voxels_and_millilitres():
    array = np.zeros(VOLUME.shape, np.uint8)
    array[1:4, 2:6, 3:8] = 1  # 3 × 4 × 5 = 60 voxels
    array[5, 0, 0:7] = 2  # 7 voxels
    segments = summary(LABELS, [LabelVolume(array)], volume=VOLUME)["segments"]
    voxel_mm3 = 3.0 * 0.5 * 0.8
    assert segments == [
        {"label": "Kidney", "index": 1, "voxels": 60, "volume_ml": pytest.approx(60 * voxel_mm3 / 1000)},
        {"label": "Cyst", "index": 2, "voxels": 7, "volume_ml": pytest.approx(7 * voxel_mm3 / 1000)},
        {"label": "Stone", "index": 3, "voxels": 0, "volume_ml": 0.0},
    ]


def test_boxes_and_points_are_given_in_voxels_and_patient_millimetres():
    result = summary(LABELS, [Boxes((Box(2, (1, 2, 3), (3, 6, 9), 0.9),)), Points((Point(3, (0.5, 1.0, 2.5)),))],
                     volume=VOLUME)
    (box,) = result["boxes"]
    assert (box["label"], box["index"], box["score"], box["start"], box["end"]) == ("Cyst", 2, 0.9, [1, 2, 3],
                                                                                      [3, 6, 9])
    assert box["start_mm"] == pytest.approx(_patient(1, 2, 3))
    assert box["end_mm"] == pytest.approx(_patient(3, 6, 9))
    assert box["centre_mm"] == pytest.approx(_patient(2, 4, 6))
    (point,) = result["points"]
    assert (point["label"], point["score"], point["position"]) == ("Stone", None, [0.5, 1.0, 2.5])
    assert point["position_mm"] == pytest.approx(_patient(0.5, 1.0, 2.5))


def test_the_summary_is_plain_json_with_every_label_described():
    outputs = [LabelVolume(np.ones(VOLUME.shape, np.int64)), Scores({"Stone": 0.2, "Kidney": 0.7, "Cyst": 0.1}),
               Boxes(()), ImageOutput(np.zeros(VOLUME.shape, np.float32), "denoised")]
    result = summary(LABELS, outputs, volume=VOLUME)
    assert json.loads(json.dumps(result)) == result
    assert list(result["scores"]) == ["Kidney", "Cyst", "Stone"]  # the task's order, not the model's
    assert result["labels"][0] == {"index": 1, "name": "Kidney", "colour": [185, 102, 83],
                                   "code": {"value": "64033007", "scheme": "SCT", "meaning": "Kidney"}}
    assert result["labels"][1]["code"] is None and result["labels"][1]["colour"] is None
    assert result["boxes"] == [] and result["images"] == [{"description": "denoised"}]
    assert result["segments"][0]["voxels"] == 6 * 8 * 10


@pytest.mark.parametrize(("outputs", "reason"), [
    ([LabelVolume(np.zeros((6, 8, 10), np.uint8))] * 2, "two LabelVolume outputs"),
    ([LabelVolume(np.zeros((6, 8, 9), np.uint8))], "differs from the input's"),
    ([Boxes((Box(4, (0, 0, 0), (0, 0, 0)),))], "label 4 is not a label index"),
    (["not an output"], "str is not a model output"),
])
def test_outputs_that_do_not_fit_are_refused(outputs, reason):
    with pytest.raises(ResultRefused, match=reason):
        summary(LABELS, outputs, volume=VOLUME)


def test_labels_named_twice_are_refused():
    with pytest.raises(ResultRefused, match=r"\['Cyst'\] appear more than once"):
        summary((*LABELS, Label("Cyst")), [], volume=VOLUME)
