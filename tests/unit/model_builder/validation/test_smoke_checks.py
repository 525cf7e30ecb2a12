"""The smoke run's input is a plausible series of the declared modality, with the attributes its tasks declare;
its outputs and crashes are judged."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from model_builder import Box, Boxes, ImageOutput, InputError, LabelVolume, Scores, parse_manifest
from model_builder.validation import Problem, check_outputs, smoke_failure, synthetic_volume

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def segmentation(classical):
    data = json.loads(classical["manifest.json"])
    data.update(task="segmentation", labels=[{"name": "Liver"}, {"name": "Spleen"}])
    return parse_manifest(data)


def test_a_synthetic_ct_has_air_body_lungs_and_bone_in_hounsfield_units_on_a_real_geometry():
    volume = synthetic_volume("CT")
    array = volume.array
    assert volume.shape == (24, 64, 64) and volume.modality == "CT" and array.dtype == np.float32
    assert abs(float(np.median(array[:, :3, :3])) + 1000) < 30  # the corner is air
    assert abs(float(np.median(array[12, 28:36, 28:36])) - 40) < 30  # the centre is soft tissue
    assert 0.2 < float((array > -300).mean()) < 0.6  # the body fills part of the field of view
    assert (array > 300).sum() > 100 and ((array > -950) & (array < -700)).sum() > 100  # bone and lung
    assert len(set(volume.spacing)) == 3 and all(abs(o) > 1 for o in volume.origin)
    assert not np.allclose(volume.direction, np.eye(3))
    assert np.allclose(volume.direction @ volume.direction.T, np.eye(3))
    assert volume.attributes["PatientAge"] == "054Y" and volume.attributes["KVP"] == 120.0


def test_synthetic_volumes_are_reproducible_by_seed_and_take_attributes_and_shapes():
    first, again, other = synthetic_volume("CT", seed=1), synthetic_volume("CT", seed=1), synthetic_volume("CT", seed=2)
    assert np.array_equal(first.array, again.array) and not np.array_equal(first.array, other.array)
    small = synthetic_volume("MR", shape=(3, 16, 20), attributes={"PatientAge": "030Y", "EchoTime": 90.0})
    assert small.shape == (3, 16, 20) and small.attributes["PatientAge"] == "030Y"
    assert small.attributes["EchoTime"] == 90.0 and small.attributes["MagneticFieldStrength"] == 1.5


def test_with_declared_inputs_the_synthetic_series_carries_those_attributes_only():
    volume = synthetic_volume("CT", shape=(2, 8, 8), inputs=("PatientWeight", "StudyDate", "PixelSpacing", "KVP"))
    assert volume.attributes == {"PatientWeight": 70.0, "StudyDate": "20240101", "PixelSpacing": [1.0, 1.0],
                                 "KVP": 120.0}  # the usual values where there are some, placeholders otherwise
    assert synthetic_volume("CT", shape=(2, 8, 8), inputs=()).attributes == {}
    given = synthetic_volume("CT", shape=(2, 8, 8), inputs=("PatientAge",), attributes={"PatientAge": "030Y"})
    assert given.attributes == {"PatientAge": "030Y"}


def test_a_task_declaring_patient_weight_runs_on_its_smoke_series_and_one_reading_more_does_not():
    from model_builder import InferTask, InferType, Label

    class Weighed(InferTask):
        type = InferType.PROCESSING
        labels = (Label("Body"),)
        inputs = ("PatientWeight",)

        def infer(self, data):
            return data > -300

        def post(self, result, volume):
            assert volume.attributes["PatientWeight"] > 0
            return LabelVolume(result.astype(np.uint8))

    class Curious(Weighed):
        def post(self, result, volume):
            return LabelVolume(result.astype(np.uint8) * int(volume.attributes["PatientSex"] == "F"))

    task = Weighed()
    volume = synthetic_volume("CT", shape=(4, 16, 16), inputs=task.inputs)
    assert task(volume).array.any()
    with pytest.raises(KeyError, match="PatientSex"):
        Curious()(volume)  # it would fail the same way on the platform, which sends only what was declared


@pytest.mark.parametrize(("modality", "low", "high"), [("MR", 0, 2000), ("PT", 0, 20), ("DX", 0, 4095)])
def test_other_modalities_have_their_own_plausible_intensities(modality, low, high):
    volume = synthetic_volume(modality)
    inside, outside = volume.array[12, 32, 20], volume.array[12, 1, 1]
    assert low <= volume.array.min() and volume.array.max() <= high and inside > outside
    assert volume.modality == modality and np.isfinite(volume.array).all()


def test_an_invalid_modality_is_refused():
    with pytest.raises(InputError, match="not a DICOM modality code"):
        synthetic_volume("ct scan")


def test_the_classical_template_passes_its_smoke_check_on_a_synthetic_ct(classical, tmp_path, write_bundle):
    import importlib.util

    root = write_bundle(tmp_path / "bundle", classical)
    spec = importlib.util.spec_from_file_location("smoke_template_app", root / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = parse_manifest(json.loads(classical["manifest.json"]))
    volume = synthetic_volume(manifest.modality)
    output = module.BodyMaskApplication(str(root)).run(volume)
    assert check_outputs(manifest, volume, output) == [] and check_outputs(manifest, volume, [output]) == []
    assert 0.2 < float(output.array.mean()) < 0.6  # a mask of the body, not of everything or nothing


def test_an_output_of_the_wrong_kind_says_what_the_task_needs(segmentation):
    volume = synthetic_volume("CT", shape=(4, 8, 8))
    assert check_outputs(segmentation, volume, Scores({"Liver": 0.5, "Spleen": 0.5})) == [
        Problem("smoke", None, None, None, "the output: a segmentation model must return LabelVolume, got Scores")]
    assert check_outputs(segmentation, volume, []) == [
        Problem("smoke", None, None, None, "run() returned no output: return one output or a list of them")]
    assert check_outputs(segmentation, volume, None)[0].message.endswith("got NoneType")


@pytest.mark.parametrize(("array", "says"), [
    (np.zeros((4, 8, 9), np.uint8), "shape (4, 8, 9) differs from the input's (4, 8, 8)"),
    (np.zeros((4, 8, 8), np.float32), "dtype float32 is not an integer type"),
    (np.full((4, 8, 8), 3, np.uint8), "values span 3..3 but the task has 2 label(s): use 0 for background and 1..2"),
])
def test_a_label_volume_that_does_not_fit_says_what_was_expected_and_got(segmentation, array, says):
    volume = synthetic_volume("CT", shape=(4, 8, 8))
    good = LabelVolume(np.ones((4, 8, 8), np.uint8))
    [problem] = check_outputs(segmentation, volume, [good, LabelVolume(array)])
    assert problem.stage == "smoke" and problem.message.startswith("output 2 of 2: LabelVolume: ")
    assert says in problem.message


def test_processing_and_detection_outputs_are_checked_against_the_input(classical):
    volume = synthetic_volume("CT", shape=(4, 8, 8))
    processing = parse_manifest(json.loads(classical["manifest.json"]))
    [nan] = check_outputs(processing, volume, ImageOutput(np.full((4, 8, 8), np.nan)))
    assert nan.message == "the output: ImageOutput: holds NaN or infinite values"
    detection = parse_manifest({**json.loads(classical["manifest.json"]), "task": "detection"})
    [outside] = check_outputs(detection, volume, Boxes((Box(1, (0, 0, 0), (3, 7, 8), 0.9),)))
    assert outside.message == "the output: Boxes[0]: axis x: 0..8 is not inside 0..7 with start <= end"
    [broken] = check_outputs(detection, volume, Boxes((Box(1, (0, 0), (3, 7, 8), 0.9),)))
    assert "start and end must be (z, y, x)" in broken.message


FAILING_APP = '''
import json

from model_builder import Application


class Failing(Application):
    def run(self, volume):
        return self.decode("{")

    def decode(self, text):
        return json.loads(text)  # raises inside the standard library
'''
RUNNER = """
import sys
sys.path.insert(0, sys.argv[1])
import app
app.Failing(sys.argv[1]).run(None)
"""


def run_bundle(root: Path) -> str:
    result = subprocess.run([sys.executable, "-c", RUNNER, str(root)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    return result.stderr


def test_a_model_that_raises_is_reported_at_its_last_line_inside_the_bundle(tmp_path, write_bundle, line_of):
    root = write_bundle(tmp_path / "bundle", {"app.py": FAILING_APP})
    stderr = run_bundle(root)
    assert "json/decoder.py" in stderr  # frames outside the bundle come after the model's
    problem = smoke_failure("the model failed", stderr, bundle_root=str(root))
    assert (problem.stage, problem.file, problem.line) == ("smoke", "app.py", line_of(FAILING_APP, "json.loads"))
    assert problem.message == "the model failed: json.decoder.JSONDecodeError: Expecting property name enclosed in" \
                              " double quotes: line 1 column 2 (char 1)"


def test_a_model_that_cannot_be_imported_is_reported_at_its_line(tmp_path, write_bundle):
    root = write_bundle(tmp_path / "bundle", {"app.py": "import helpers.maths\n",
                                              "helpers/maths.py": "x = 1\ny = 1 / 0\n"})
    problem = smoke_failure("the model could not be loaded", run_bundle(root), bundle_root=str(root))
    assert (problem.file, problem.line) == ("helpers/maths.py", 2)
    assert problem.message == "the model could not be loaded: ZeroDivisionError: division by zero"
    assert str(tmp_path) not in problem.message


def test_a_failure_without_traceback_keeps_the_reason_or_its_file_and_line():
    assert smoke_failure("the model took longer than 60 s", "") == Problem(
        "smoke", None, None, None, "the model took longer than 60 s")
    named = smoke_failure("the model failed: ValueError: bad (/bundle/app.py:12)", "log line\n")
    assert (named.file, named.line, named.message) == ("app.py", 12, "the model failed: ValueError: bad (app.py:12)")
    tail = textwrap.dedent('''\
        Traceback (most recent call last):
          File "/usr/lib/python3.11/runpy.py", line 198, in _run_module_as_main
          File "/bundle/net/model.py", line 41, in forward
            x = self.conv(x)
        RuntimeError: shape mismatch
        INFO runtime exiting
        ''')
    problem = smoke_failure("the model failed", tail)
    assert (problem.file, problem.line, problem.message) == (
        "net/model.py", 41, "the model failed: RuntimeError: shape mismatch")
