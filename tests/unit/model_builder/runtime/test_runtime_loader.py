"""Loading a bundle in-process: the application built once, outputs checked, failures located in the researcher's code."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from model_builder import InputError, LabelVolume
from model_builder.runtime import ModelFailedError, RuntimeLoadError, load_application
from model_builder.testing import CLASSICAL_TEMPLATE as CLASSICAL
from model_builder.testing import write_bundle


@pytest.fixture(autouse=True)
def _restore_imports():
    """Bundles all name their module `app`: leave sys.path and the `app` module as they were."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    sys.modules.pop("app", None)


def test_the_classical_template_loads_and_runs_like_its_application(body_ct):
    model = load_application(CLASSICAL)
    assert model.manifest.name == "CT body mask" and model.load_seconds > 0
    outputs = model.run(body_ct)
    expected = type(model.app)(CLASSICAL).run(body_ct)
    assert len(outputs) == 1 and isinstance(outputs[0], LabelVolume)
    np.testing.assert_array_equal(outputs[0].array, expected.array)
    assert outputs[0].array.sum() > 0 and outputs[0].array[:, -1, :].sum() == 0  # the body, not the table
    assert set(model.timings) == {"run", "validate", "pre", "infer", "post"}


def test_a_volume_the_model_refuses_raises_the_sdks_input_error(body_ct):
    model = load_application(CLASSICAL)
    mr = type(body_ct)(body_ct.array, modality="MR")
    with pytest.raises(InputError, match="BodyMask runs on CT, not MR"):
        model.run(mr)


def test_an_exception_in_run_names_the_researchers_file_and_line_only(tmp_path, ct):
    model = load_application(write_bundle(tmp_path / "b", "raises_in_run"))
    with pytest.raises(ModelFailedError) as caught:
        model.run(ct)
    assert str(caught.value) == "the model failed: ValueError: the threshold is not set at app.py:6"
    assert caught.value.location == "app.py:6" and caught.value.status == 500


def test_an_output_that_does_not_fit_the_input_is_refused_with_the_sdks_message(tmp_path, ct):
    model = load_application(write_bundle(tmp_path / "b", "wrong_shape"))
    with pytest.raises(ModelFailedError, match=r"OutputError: LabelVolume: shape \(1, 1, 1\) differs from the"
                       r" input's \(4, 8, 8\); resample the labels back onto the input grid"):
        model.run(ct)


def test_an_output_of_another_kind_than_the_manifests_task_is_refused(tmp_path, body_ct):
    bundle = shutil.copytree(CLASSICAL, tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "task": "classification"}))
    with pytest.raises(ModelFailedError, match="a classification model must return Scores, got LabelVolume"):
        load_application(bundle).run(body_ct)


def test_label_values_are_checked_against_the_manifests_labels(tmp_path, ct):
    labels = [{"name": "Lesion"}]  # every_kind's segmentation answers labels 1 and 2
    model = load_application(write_bundle(tmp_path / "b", "every_kind", labels=labels))
    with pytest.raises(ModelFailedError, match="values span 0..2 but the task has 1 label"):
        model.run(type(ct)(np.array([[[0, 50, 200]]], dtype=np.int16)))


def test_an_import_error_names_the_line_and_no_path_outside_the_bundle(tmp_path):
    with pytest.raises(RuntimeLoadError) as caught:
        load_application(write_bundle(tmp_path / "b", "fails_at_import"))
    message = str(caught.value)
    assert message.startswith("importing 'app' failed: ModuleNotFoundError: No module named"
                              " 'a_package_nobody_installed'")
    assert caught.value.location == "app.py:3" and message.endswith("(at app.py:3)")
    assert str(tmp_path) not in message and sys.prefix not in message


def test_a_failing_constructor_names_its_line_and_the_file_relative_to_the_bundle(tmp_path):
    with pytest.raises(RuntimeLoadError) as caught:
        load_application(write_bundle(tmp_path / "b", "fails_in_constructor"))
    assert caught.value.location == "app.py:7"
    assert "building NoWeights(bundle_dir) failed: FileNotFoundError" in str(caught.value)
    assert "'models/model.pt'" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_a_syntax_error_names_its_line(tmp_path):
    bundle = write_bundle(tmp_path / "b", "raises_in_run")
    (bundle / "app.py").write_text("x = 1\ndef broken(:\n")
    with pytest.raises(RuntimeLoadError) as caught:
        load_application(bundle)
    assert caught.value.location == "app.py:2" and "SyntaxError" in str(caught.value)


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: (b / "manifest.json").unlink(), "the bundle has no manifest.json at its root"),
    (lambda b: (b / "manifest.json").write_text("{"), "manifest.json cannot be read as JSON"),
    (lambda b: (b / "manifest.json").write_text('{"name": 1}'), r"\$.description: is required"),
    (lambda b: (b / "app.py").unlink(), "the entry point's module 'app' is not in the bundle: add app.py"),
    (lambda b: (b / "app.py").write_text("Broken = 1\n"), "must name a subclass of model_builder.Application"),
])
def test_a_bundle_that_cannot_start_says_what_to_fix(tmp_path, change, message):
    bundle = write_bundle(tmp_path / "b", "raises_in_run")
    change(bundle)
    with pytest.raises(RuntimeLoadError, match=message):
        load_application(bundle)


def test_two_bundles_with_a_module_of_the_same_name_load_in_one_process(tmp_path, ct):
    broken = load_application(write_bundle(tmp_path / "a", "raises_in_run"))
    working = load_application(write_bundle(tmp_path / "b", "every_kind"))
    assert type(broken.app).__name__ == "Broken" and type(working.app).__name__ == "EveryKind"
    assert isinstance(working.run(ct)[0], LabelVolume)
