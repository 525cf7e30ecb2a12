"""BundleApplication runs a zoo-layout bundle as it is: its loader, transforms, inferer and inversion, no writer."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from model_builder import ManifestError, Scores, Volume
from model_builder.monai_bundle import BundleApplication, volume_affine
from model_builder.samples.synthetic_ct import dice, dicomgen_case

HEART = Path(__file__).resolve().parents[3] / "model_builder" / "samples" / "ct_heart_unet"
MIN_DICE = 0.85  # the sample U-Net on a small series (32 × 128 × 128); measured 0.93


@pytest.fixture(scope="module")
def small_ct():
    return dicomgen_case(21, slices=32, rows=128, columns=128)


def _variant(root: Path, change=None) -> Path:
    """A copy of the sample heart bundle, its inference.json edited by `change`."""
    bundle = root / "bundle"
    shutil.copytree(HEART / "configs", bundle / "configs")
    shutil.copytree(HEART / "models", bundle / "models")
    path = bundle / "configs" / "inference.json"
    inference = json.loads(path.read_text())
    if change:
        change(inference)
    path.write_text(json.dumps(inference))
    return bundle


def _transforms(inference: dict, key: str) -> list[dict]:
    return inference[key]["transforms"]


def test_the_bundles_writer_is_skipped_and_its_temporary_input_removed(tmp_path, small_ct, monkeypatch):
    bundle = _variant(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    application = BundleApplication(bundle)
    assert "SaveImaged" not in {type(t).__name__ for t in application.postprocessing.transforms}
    output = application.run(small_ct.volume)
    assert dice(output.array == 1, small_ct.masks["heart"]) >= MIN_DICE
    assert not (bundle / "eval").exists(), "SaveImaged would have written the prediction to @output_dir"
    assert list((tmp_path / "tmp").iterdir()) == [], "the NIfTI written for LoadImaged is gone"


def test_a_bundle_without_invertd_is_brought_back_to_the_input_grid(tmp_path, small_ct):
    def drop_invertd(inference):
        inference["postprocessing"]["transforms"] = [
            t for t in _transforms(inference, "postprocessing") if t["_target_"] != "Invertd"]

    output = BundleApplication(_variant(tmp_path, drop_invertd)).run(small_ct.volume)
    assert output.array.shape == small_ct.volume.shape
    assert dice(output.array == 1, small_ct.masks["heart"]) >= MIN_DICE


def test_a_bundle_without_a_loader_gets_what_its_loader_would_have_given(tmp_path, small_ct):
    def drop_loader(inference):
        inference["preprocessing"]["transforms"] = _transforms(inference, "preprocessing")[1:]

    application = BundleApplication(_variant(tmp_path, drop_loader))
    assert not application.reads_files
    output = application.run(small_ct.volume)
    assert dice(output.array == 1, small_ct.masks["heart"]) >= MIN_DICE


def test_a_series_stored_right_to_left_finds_the_same_heart(small_ct):
    """The geometry, not the array order, says where the patient's left is: flip x and its direction together."""
    volume = small_ct.volume
    direction = volume.direction.copy()
    direction[2] = -direction[2]
    last_column = np.asarray(volume.origin) + volume.direction[2] * volume.spacing[2] * (volume.shape[2] - 1)
    flipped = Volume(volume.array[:, :, ::-1].copy(), spacing=volume.spacing, origin=tuple(last_column),
                     direction=direction, modality="CT")
    assert np.allclose(volume_affine(flipped) @ [volume.shape[2] - 1, 0, 0, 1], volume_affine(volume)[:, 3])
    output = BundleApplication(HEART).run(flipped)
    assert dice(output.array[:, :, ::-1] == 1, small_ct.masks["heart"]) >= MIN_DICE


def test_a_bundle_without_weights_or_network_is_refused_with_what_is_missing(tmp_path):
    bundle = _variant(tmp_path, lambda inference: inference.pop("network_def"))
    (bundle / "models" / "model.pt").unlink()
    with pytest.raises(ManifestError) as refused:
        BundleApplication(bundle)
    assert {path for path, _ in refused.value.problems} == {"configs/inference.json → network_def",
                                                           "models/model.pt"}


def test_a_classification_bundle_returns_one_probability_per_label(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "models").mkdir()
    metadata = {"name": "Chest CT triage", "version": "0.1.0", "network_data_format": {
        "inputs": {"image": {"type": "image", "modality": "CT"}},
        "outputs": {"pred": {"type": "probabilities", "format": "classes",
                             "channel_def": {"0": "normal", "1": "abnormal"}}}}}
    network_def = {"_target_": "DenseNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                   "init_features": 4, "growth_rate": 4, "block_config": [2, 2], "bn_size": 2}
    inference = {"network_def": network_def, "inferer": {"_target_": "SimpleInferer"},
                 "preprocessing": {"_target_": "Compose", "transforms": [
                     {"_target_": "EnsureChannelFirstd", "keys": "image"},
                     {"_target_": "Resized", "keys": "image", "spatial_size": [16, 16, 16]}]}}
    (tmp_path / "configs" / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "configs" / "inference.json").write_text(json.dumps(inference))
    from monai.bundle import ConfigParser

    torch.manual_seed(0)
    torch.save(ConfigParser({"n": network_def}).get_parsed_content("n").state_dict(), tmp_path / "models" / "model.pt")
    output = BundleApplication(tmp_path).run(Volume(np.zeros((10, 20, 20), np.float32), modality="CT"))
    assert isinstance(output, Scores)
    assert set(output.scores) == {"normal", "abnormal"}
    assert sum(output.scores.values()) == pytest.approx(1.0)


def test_a_reorienting_bundle_without_invertd_is_inverted_even_when_the_shape_is_unchanged(tmp_path, small_ct):
    """An identity "network" thresholding at 401 HU: the answer must be the bone mask itself, voxel for voxel."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "models").mkdir()
    metadata = {"name": "Bone window", "network_data_format": {
        "inputs": {"image": {"type": "image", "modality": "CT"}},
        "outputs": {"pred": {"type": "image", "format": "segmentation",
                             "channel_def": {"0": "background", "1": "bone"}}}}}
    inference = {"network_def": {"_target_": "torch.nn.Identity"}, "inferer": {"_target_": "SimpleInferer"},
                 "preprocessing": {"_target_": "Compose", "transforms": [
                     {"_target_": "LoadImaged", "keys": "image"},
                     {"_target_": "EnsureChannelFirstd", "keys": "image"},
                     {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
                     {"_target_": "ScaleIntensityRanged", "keys": "image", "a_min": 400, "a_max": 402,
                      "b_min": 0.0, "b_max": 1.0, "clip": True}]},
                 "postprocessing": {"_target_": "Compose", "transforms": [
                     {"_target_": "AsDiscreted", "keys": "pred", "threshold": 0.5}]}}
    (tmp_path / "configs" / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "configs" / "inference.json").write_text(json.dumps(inference))
    torch.save({}, tmp_path / "models" / "model.pt")
    application = BundleApplication(tmp_path)
    assert not application.inverts
    output = application.run(small_ct.volume)
    assert np.array_equal(output.array == 1, small_ct.masks["bone"])
