"""The classical bone sample: threshold, connected pieces and filled slices find the phantom's skeleton."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from model_builder import Application, InferType, LabelVolume, Volume, parse_manifest
from model_builder.samples.synthetic_ct import dice

MIN_DICE = 0.98  # measured 1.000 on the platform's 64 × 256 × 256 series


@pytest.fixture(scope="module")
def bone_app(bone_bundle):
    """The sample's entry point, built as the runtime builds it: module:Class relative to the bundle's root."""
    manifest = parse_manifest(json.loads((bone_bundle / "manifest.json").read_text()))
    module_name, class_name = manifest.entry_point.split(":")
    spec = importlib.util.spec_from_file_location("sample_ct_bone_app", bone_bundle / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)(str(bone_bundle))


def test_the_bone_sample_segments_the_skeleton_of_a_fresh_series(bone_app, fresh_ct):
    assert isinstance(bone_app, Application)
    output = bone_app.run(fresh_ct.volume)
    assert isinstance(output, LabelVolume) and output.array.shape == fresh_ct.volume.shape
    assert dice(output.array == 1, fresh_ct.masks["bone"]) >= MIN_DICE
    assert not (output.array == 1)[fresh_ct.masks["heart"]].any()


def _block(value: float = 40.0) -> np.ndarray:
    return np.full((6, 40, 40), value, dtype=np.float32)


def test_specks_of_dense_voxels_are_not_bone(bone_app):
    array = _block()
    array[3, 5, 5] = array[2, 30, 8] = 1200.0  # two single voxels: 1 mm³ each, far under 100 mm³
    array[1:5, 15:25, 15:25] = 900.0  # a real piece of bone: 4 × 10 × 10 voxels of 1 mm³ = 400 mm³
    labels = bone_app.run(Volume(array, modality="CT")).array
    assert labels[3, 5, 5] == 0 and labels[2, 30, 8] == 0
    assert labels[1:5, 15:25, 15:25].all()
    assert labels.sum() == 400


def test_marrow_inside_the_cortex_is_bone(bone_app):
    array = _block()
    z, y, x = np.mgrid[0:6, 0:40, 0:40]
    radius = np.hypot(y - 20, x - 20)
    array[(radius <= 10) & (z >= 1) & (z <= 4)] = 1000.0  # cortex ...
    array[(radius <= 6) & (z >= 1) & (z <= 4)] = 50.0  # ... around marrow below the threshold
    labels = bone_app.run(Volume(array, spacing=(2.0, 1.0, 1.0), modality="CT")).array
    assert labels[2, 20, 20] == 1, "the marrow is filled"
    assert labels[0].sum() == 0 and labels[:, 2, 2].sum() == 0, "the soft tissue around is not"


def test_the_bone_sample_refuses_another_modality(bone_app):
    with pytest.raises(ValueError, match="runs on CT"):
        bone_app.run(Volume(_block(), modality="MR"))


def test_the_bone_manifest_declares_a_coded_segmentation(bone_bundle, bone_app):
    manifest = parse_manifest(json.loads((bone_bundle / "manifest.json").read_text()))
    assert manifest.task is InferType.SEGMENTATION and manifest.modality == "CT"
    (bone,) = manifest.labels
    assert (bone.code.value, bone.code.scheme) == ("272673000", "SCT")
    assert manifest.labels == tuple(bone_app.task.labels)
