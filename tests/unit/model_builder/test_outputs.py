"""Each output checks itself against the input volume and the task's labels, with a message saying what to fix."""

from __future__ import annotations

import numpy as np
import pytest

from model_builder import Box, Boxes, Code, ImageOutput, InputError, Label, LabelVolume, Point, Points, Scores, Volume
from model_builder.errors import OutputError


def test_a_label_volume_on_the_input_grid_with_known_labels_is_valid(ct, labels):
    array = np.zeros(ct.shape, dtype=np.uint8)
    array[1, 2:4, 2:4] = 2
    LabelVolume(array).validate(ct, labels)


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((4, 8, 7), dtype=np.uint8), "differs from the input's"),
    (np.zeros((4, 8, 8), dtype=np.float32), "is not an integer type"),
    (np.full((4, 8, 8), 3, dtype=np.uint8), "the task has 2 label(s)"),
    (np.full((4, 8, 8), -1, dtype=np.int16), "use 0 for background"),
    ([[[0]]], "must be a numpy array"),
])
def test_a_label_volume_that_does_not_fit_is_refused(ct, labels, array, message):
    with pytest.raises(OutputError, match="LabelVolume") as refused:
        LabelVolume(array).validate(ct, labels)
    assert message in str(refused.value)


def test_scores_need_one_probability_per_label(ct, labels):
    Scores({"Liver": 0.9, "Spleen": 0.1}).validate(ct, labels)
    Scores({"Liver": np.float32(0.9), "Spleen": np.float64(0.1)}).validate(ct, labels)
    with pytest.raises(OutputError, match=r"unknown: \['Kidney'\], missing: \['Spleen'\]"):
        Scores({"Liver": 0.9, "Kidney": 0.1}).validate(ct, labels)
    with pytest.raises(OutputError, match="between 0 and 1"):
        Scores({"Liver": 1.5, "Spleen": 0.1}).validate(ct, labels)
    with pytest.raises(OutputError, match="between 0 and 1"):
        Scores({"Liver": float("nan"), "Spleen": 0.1}).validate(ct, labels)


def test_boxes_must_lie_inside_the_volume_with_a_known_label(ct, labels):
    Boxes([Box(1, (0, 0, 0), (3, 7, 7), 0.8)]).validate(ct, labels)
    with pytest.raises(OutputError, match=r"Boxes\[0\]: axis z: 2..4 is not inside 0..3"):
        Boxes([Box(1, (2, 0, 0), (4, 1, 1))]).validate(ct, labels)
    with pytest.raises(OutputError, match="start <= end"):
        Boxes([Box(1, (0, 5, 0), (1, 2, 1))]).validate(ct, labels)
    with pytest.raises(OutputError, match=r"Boxes\[1\]: label 3 is not a label index of the task: use 1..2"):
        Boxes([Box(1, (0, 0, 0), (1, 1, 1)), Box(3, (0, 0, 0), (1, 1, 1))]).validate(ct, labels)
    with pytest.raises(OutputError, match="between 0 and 1"):
        Boxes([Box(2, (0, 0, 0), (1, 1, 1), score=2.0)]).validate(ct, labels)
    with pytest.raises(OutputError, match="must be a model_builder.Box"):
        Boxes([(1, (0, 0, 0), (1, 1, 1))]).validate(ct, labels)


def test_points_must_lie_inside_the_volume_with_a_known_label(ct, labels):
    Points([Point(2, (1.5, 3.0, 7.0))]).validate(ct, labels)
    with pytest.raises(OutputError, match=r"Points\[0\]: axis x: 9.0 is outside the volume"):
        Points([Point(1, (1.0, 1.0, 9.0))]).validate(ct, labels)
    with pytest.raises(OutputError, match="label 0 is not a label index"):
        Points([Point(0, (1.0, 1.0, 1.0))]).validate(ct, labels)


def test_an_image_output_must_be_finite_numbers_on_the_input_grid(ct, labels):
    ImageOutput(np.zeros(ct.shape, dtype=np.float32)).validate(ct, labels)
    with pytest.raises(OutputError, match="differs from the input's"):
        ImageOutput(np.zeros((2, 2, 2))).validate(ct, labels)
    with pytest.raises(OutputError, match="NaN or infinite"):
        ImageOutput(np.full(ct.shape, np.inf)).validate(ct, labels)
    with pytest.raises(OutputError, match="not numeric"):
        ImageOutput(np.full(ct.shape, "a")).validate(ct, labels)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"array": np.zeros((4, 4))}, "Volume.array"),
    ({"array": np.zeros((0, 4, 4))}, "Volume.array"),
    ({"array": np.zeros((2, 2, 2)), "spacing": (1.0, 0.0, 1.0)}, "Volume.spacing"),
    ({"array": np.zeros((2, 2, 2)), "spacing": (1.0, 1.0)}, "Volume.spacing"),
    ({"array": np.zeros((2, 2, 2)), "origin": (0.0, float("nan"), 0.0)}, "Volume.origin"),
    ({"array": np.zeros((2, 2, 2)), "direction": np.eye(2)}, "Volume.direction"),
    ({"array": np.zeros((2, 2, 2)), "direction": np.eye(3) * 2}, "Volume.direction"),
    ({"array": np.zeros((2, 2, 2)), "attributes": {1: "x"}}, "Volume.attributes"),
])
def test_a_volume_names_the_invalid_attribute(kwargs, field):
    with pytest.raises(InputError) as refused:
        Volume(**kwargs)
    assert refused.value.field == field


def test_labels_validate_their_code_and_colour():
    assert Label("Liver", colour=[1, 2, 3]).colour == (1, 2, 3)
    with pytest.raises(ValueError, match="colour must be three integers"):
        Label("Liver", colour=(0, 0, 256))
    with pytest.raises(ValueError, match="Code.scheme"):
        Code("10200004", "", "Liver")
    with pytest.raises(ValueError, match="Label.name"):
        Label(" Liver")
