"""InferTask runs pre → infer → post and accepts only the output kind of its type; Application must define run."""

from __future__ import annotations

import numpy as np
import pytest

from model_builder import (
    OUTPUT_KINDS,
    Application,
    Boxes,
    ImageOutput,
    InferTask,
    InferType,
    InputError,
    Label,
    LabelVolume,
    OutputError,
    Points,
    Scores,
    TaskError,
    Volume,
)


def _outputs(volume: Volume) -> dict[type, object]:
    return {LabelVolume: LabelVolume(np.zeros(volume.shape, dtype=np.uint8)), Scores: Scores({"Liver": 0.5}),
            Boxes: Boxes([]), Points: Points([]), ImageOutput: ImageOutput(np.zeros(volume.shape))}


def _task(infer_type: InferType, output: object) -> InferTask:
    class Returns(InferTask):
        type = infer_type
        labels = (Label("Liver"),)

        def infer(self, data):
            return output

    return Returns()


@pytest.mark.parametrize("infer_type", list(InferType))
def test_a_task_accepts_exactly_the_output_kinds_of_its_type(ct, infer_type):
    for kind, output in _outputs(ct).items():
        task = _task(infer_type, output)
        if kind in OUTPUT_KINDS[infer_type]:
            assert task(ct) is output
        else:
            with pytest.raises(OutputError, match=f"a {infer_type.value} task must return"):
                task(ct)


def test_processing_may_return_an_image_or_a_label_volume():
    assert set(OUTPUT_KINDS[InferType.PROCESSING]) == {ImageOutput, LabelVolume}
    assert OUTPUT_KINDS[InferType.SEGMENTATION] == (LabelVolume,)


def test_a_task_runs_its_stages_in_order_and_records_their_latencies(ct):
    class Threshold(InferTask):
        type = InferType.SEGMENTATION
        labels = (Label("Dense"),)
        modality = "CT"
        inputs = ("PatientAge",)

        def pre(self, volume):
            return volume.array + 1000

        def infer(self, data):
            return data > 500

        def post(self, result, volume):
            return LabelVolume(result.astype(np.uint8))

    task = Threshold()
    assert task(ct).array.sum() == 0
    assert set(task.latencies) == {"pre", "infer", "post"}


def test_the_output_is_validated_against_the_input(ct):
    task = _task(InferType.SEGMENTATION, LabelVolume(np.full(ct.shape, 2, dtype=np.uint8)))
    with pytest.raises(OutputError, match="the task has 1 label"):
        task(ct)


def test_a_task_refuses_another_modality_and_missing_attributes(ct):
    task = _task(InferType.SEGMENTATION, LabelVolume(np.zeros(ct.shape, dtype=np.uint8)))
    mr_task = type(task)(modality="MR")
    with pytest.raises(InputError, match="runs on MR, not CT"):
        mr_task(ct)
    needs = type(task)(inputs=("PatientWeight",))
    with pytest.raises(InputError, match=r"needs \['PatientWeight'\]"):
        needs(ct)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"labels": ()}, "labels"),
    ({"labels": (Label("A"), Label("A"))}, "labels"),
    ({"labels": ("Liver",)}, "labels"),
    ({"modality": "ct"}, "modality"),
    ({"inputs": ("patient age",)}, "inputs"),
])
def test_an_invalid_declaration_is_refused_with_its_field(kwargs, field):
    class Segment(InferTask):
        type = InferType.SEGMENTATION
        labels = (Label("Liver"),)

    with pytest.raises(TaskError) as refused:
        Segment(**kwargs)
    assert refused.value.field == field


def test_a_task_without_a_type_is_refused():
    with pytest.raises(TaskError, match="declare one of"):
        InferTask()
    with pytest.raises(ValueError):
        InferTask(type="segmentaton")


def test_a_task_without_infer_says_what_to_implement(ct):
    class Lazy(InferTask):
        type = InferType.PROCESSING

    with pytest.raises(NotImplementedError, match="must implement infer"):
        Lazy()(ct)


def test_an_application_without_run_cannot_be_instantiated():
    class NoRun(Application):
        pass

    with pytest.raises(TypeError, match="run"):
        NoRun()


def test_an_application_with_run_keeps_its_bundle_directory(ct, tmp_path):
    class Echo(Application):
        def run(self, volume):
            return ImageOutput(volume.array)

    app = Echo(tmp_path)
    assert app.bundle_dir == tmp_path
    assert app.run(ct).array is ct.array
