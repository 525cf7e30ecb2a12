"""A MONAI Bundle's configs/metadata.json fills a manifest without any code from the researcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_builder import InferType, ManifestError
from model_builder.monai_bundle import ENTRY_POINT, manifest_from_monai

METADATA = {
    "schema": "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20220324.json",
    "version": "0.5.3",
    "changelog": {"0.5.3": "update to the new metric", "0.5.2": "first release"},
    "monai_version": "1.3.0",
    "pytorch_version": "2.1.0",
    "numpy_version": "1.24.4",
    "optional_packages_version": {"nibabel": "5.2.0"},
    "name": "Spleen CT segmentation",
    "task": "Decathlon spleen segmentation",
    "description": "A pre-trained model for volumetric (3D) segmentation of the spleen from CT image",
    "intended_use": "This is an example, not to be used for diagnostic purposes",
    "network_data_format": {
        "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1,
                             "spatial_shape": [96, 96, 96], "channel_def": {"0": "image"}}},
        "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 2,
                             "spatial_shape": [96, 96, 96], "channel_def": {"0": "background", "1": "spleen"}}},
    },
}


def _bundle(root: Path, metadata: dict, inference: dict | None = None) -> Path:
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "metadata.json").write_text(json.dumps(metadata))
    if inference is not None:
        (root / "configs" / "inference.json").write_text(json.dumps(inference))
    return root


def test_a_monai_bundle_fills_the_manifest(tmp_path):
    inference = {"network_def": {"_target_": "UNet", "spatial_dims": 3}}
    manifest = manifest_from_monai(_bundle(tmp_path / "spleen", METADATA, inference))
    assert manifest.name == "Spleen CT segmentation"
    assert manifest.task is InferType.SEGMENTATION
    assert manifest.modality == "CT"
    assert [label.name for label in manifest.labels] == ["spleen"]
    assert manifest.architecture == "UNet"
    assert manifest.version_notes == ("0.5.3: update to the new metric Tested with monai 1.3.0, nibabel 5.2.0,"
                                      " numpy 1.24.4, torch 2.1.0.")
    assert "Intended use: This is an example" in manifest.description
    assert manifest.entry_point == ENTRY_POINT == "model_builder.monai_bundle:BundleApplication"
    assert manifest.requirements == ()  # the versions it names are what it was tested with, not requirements


def test_a_classification_bundle_is_recognised_and_the_modality_can_be_given(tmp_path):
    metadata = {**METADATA, "task": "Chest X-ray classification", "network_data_format": {
        "inputs": {"image": {"type": "image"}},
        "outputs": {"pred": {"type": "probabilities", "format": "classes",
                             "channel_def": {"0": "normal", "1": "pneumonia"}}}}}
    manifest = manifest_from_monai(_bundle(tmp_path / "cxr", metadata), modality="DX")
    assert manifest.task is InferType.CLASSIFICATION
    assert manifest.modality == "DX"
    assert [label.name for label in manifest.labels] == ["normal", "pneumonia"]
    assert manifest.architecture == "MONAI bundle"


def test_a_bundle_without_metadata_is_refused(tmp_path):
    with pytest.raises(ManifestError, match="metadata.json is missing"):
        manifest_from_monai(tmp_path)


def test_a_bundle_whose_metadata_cannot_fill_the_manifest_lists_every_gap(tmp_path):
    metadata = {"name": "Mystery", "version": "1.0", "task": "something else", "network_data_format": {}}
    with pytest.raises(ManifestError) as refused:
        manifest_from_monai(_bundle(tmp_path / "mystery", metadata))
    paths = {path for path, _ in refused.value.problems}
    assert paths == {"configs/metadata.json → $.task", "configs/metadata.json → $.modality"}


def _with_output(**extra) -> dict:
    pred = {**METADATA["network_data_format"]["outputs"]["pred"], **extra}
    return {**METADATA, "network_data_format": {**METADATA["network_data_format"], "outputs": {"pred": pred}}}


def test_label_codes_and_colours_are_read_beside_channel_def_by_channel(tmp_path):
    metadata = _with_output(label_codes={"1": {"value": "78961009", "scheme": "SCT", "meaning": "Spleen"}},
                            label_colours={"1": [157, 108, 162]})
    (spleen,) = manifest_from_monai(_bundle(tmp_path / "spleen", metadata)).labels
    assert (spleen.code.value, spleen.code.scheme, spleen.code.meaning) == ("78961009", "SCT", "Spleen")
    assert spleen.colour == (157, 108, 162)


def test_a_label_without_code_keeps_its_name_only(tmp_path):
    (spleen,) = manifest_from_monai(_bundle(tmp_path / "spleen", METADATA)).labels
    assert spleen.code is None and spleen.colour is None


def test_a_bad_label_code_is_reported_with_its_path(tmp_path):
    metadata = _with_output(label_codes={"1": {"value": "78961009", "scheme": "SCT"}}, label_colours={"1": [300, 0, 0]})
    with pytest.raises(ManifestError) as refused:
        manifest_from_monai(_bundle(tmp_path / "spleen", metadata))
    paths = {path for path, _ in refused.value.problems}
    assert paths == {"configs/metadata.json → $.labels[0].code.meaning", "configs/metadata.json → $.labels[0].colour[0]"}
