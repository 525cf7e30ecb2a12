"""The templates the editor starts from: the classical one runs for real, the MONAI ones are well-formed."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from model_builder import Application, LabelVolume, Volume, parse_manifest

TEMPLATES = Path(__file__).resolve().parents[3] / "model_builder" / "templates"
NAMES = ["segmentation_monai", "classification", "processing_classical"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"template_{name}", TEMPLATES / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic_ct() -> tuple[Volume, np.ndarray]:
    """A cylinder of 40 HU (with an air pocket inside, like a lung) in -1000 HU air, plus a separate table."""
    z, y, x = np.mgrid[0:12, 0:64, 0:64]
    body = (y - 30) ** 2 + (x - 32) ** 2 <= 20 ** 2
    array = np.where(body, 40.0, -1000.0)
    array[(y - 30) ** 2 + (x - 26) ** 2 <= 5 ** 2] = -850.0
    array[:, 56:58, 8:56] = 200.0
    rng = np.random.default_rng(0)
    return Volume(array + rng.normal(0, 10, array.shape), spacing=(3.0, 0.7, 0.7), modality="CT"), body


def test_the_classical_template_masks_the_body_and_not_the_air():
    volume, body = _synthetic_ct()
    app = _load("processing_classical").BodyMaskApplication()
    assert isinstance(app, Application)
    output = app.run(volume)
    assert isinstance(output, LabelVolume)
    assert output.array.shape == volume.shape and output.array.dtype == np.uint8
    mask = output.array == 1
    assert mask[body].mean() == 1.0, "the body, air pocket included, is masked"
    assert not mask[~body].any(), "neither the air nor the table is masked"


def test_the_classical_template_returns_an_empty_mask_on_air_only():
    volume = Volume(np.full((3, 16, 16), -1000.0), modality="CT")
    output = _load("processing_classical").BodyMaskApplication().run(volume)
    assert not output.array.any()


@pytest.mark.parametrize("name", NAMES)
def test_each_template_defines_an_application_with_run(name):
    tree = ast.parse((TEMPLATES / name / "app.py").read_text())
    apps = [node for node in tree.body if isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id == "Application" for b in node.bases)]
    assert apps, f"{name}/app.py defines no Application subclass"
    methods = {item.name for item in apps[0].body if isinstance(item, ast.FunctionDef)}
    assert "run" in methods


@pytest.mark.parametrize("name", NAMES)
def test_each_template_manifest_is_valid_and_points_at_its_application(name):
    manifest = parse_manifest(json.loads((TEMPLATES / name / "manifest.json").read_text()))
    module, cls = manifest.entry_point.split(":")
    assert module == "app"
    tree = ast.parse((TEMPLATES / name / "app.py").read_text())
    assert cls in {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
