"""The shipped heart U-Net, run as a MONAI Bundle as it is: it finds the heart on a CT it has never seen."""

from __future__ import annotations

import importlib
import json

import numpy as np

from model_builder import InferType, LabelVolume
from model_builder.monai_bundle import ENTRY_POINT, manifest_from_monai
from model_builder.samples.synthetic_ct import dice

MIN_DICE = 0.9  # measured 0.977 on the platform's 64 × 256 × 256 series (see model_builder/samples/README.md)


def test_the_heart_unet_segments_the_heart_of_a_fresh_series_on_its_own_grid(heart_app, fresh_ct):
    output = heart_app.run(fresh_ct.volume)
    assert isinstance(output, LabelVolume)
    assert output.array.shape == fresh_ct.volume.shape == (64, 256, 256)
    assert output.array.dtype == np.uint8 and set(np.unique(output.array)) <= {0, 1}
    assert dice(output.array == 1, fresh_ct.masks["heart"]) >= MIN_DICE
    assert not (output.array == 1)[fresh_ct.masks["bone"]].any(), "no vertebra or rib is called heart"
    assert set(heart_app.latencies) == {"pre", "infer", "post"} and min(heart_app.latencies.values()) > 0


def test_a_threshold_alone_does_not_find_the_heart(fresh_ct):
    """Why the sample needs a network: the heart is 45 HU in a 40-HU mediastinum under 8 HU of noise."""
    array = fresh_ct.volume.array
    best = max(dice((array >= low) & (array <= low + width), fresh_ct.masks["heart"])
               for low in range(30, 60, 5) for width in (10, 20, 40))
    assert best < 0.3


def test_the_manifest_entry_point_builds_the_bundle_application(heart_bundle):
    module, name = ENTRY_POINT.split(":")
    application = getattr(importlib.import_module(module), name)(heart_bundle)
    assert application.manifest.task is InferType.SEGMENTATION
    assert application.reads_files, "the sample's preprocessing starts with LoadImaged, as zoo bundles do"


def test_the_sample_bundle_fills_the_manifest_with_coded_labels(heart_bundle):
    manifest = manifest_from_monai(heart_bundle)
    assert manifest.name == "Heart CT segmentation (synthetic phantom sample)"
    assert manifest.architecture == "UNet"
    assert manifest.task is InferType.SEGMENTATION
    assert manifest.modality == "CT"
    (heart,) = manifest.labels
    assert heart.name == "Heart"
    assert (heart.code.value, heart.code.scheme, heart.code.meaning) == ("80891009", "SCT", "Heart")
    assert heart.colour == (206, 110, 84)
    assert manifest.entry_point == ENTRY_POINT
    assert all("==" in requirement for requirement in manifest.requirements)


def test_the_sample_bundle_has_the_model_zoo_layout_and_small_weights(heart_bundle):
    for path in ("configs/metadata.json", "configs/inference.json", "models/model.pt", "docs/README.md", "LICENSE"):
        assert (heart_bundle / path).is_file(), path
    assert (heart_bundle / "models" / "model.pt").stat().st_size < 2 * 1024 * 1024
    inference = json.loads((heart_bundle / "configs" / "inference.json").read_text())
    assert {"network_def", "preprocessing", "inferer", "postprocessing"} <= set(inference)
    metadata = json.loads((heart_bundle / "configs" / "metadata.json").read_text())
    assert metadata["eval_metrics"]["mean_dice"] > MIN_DICE, "train.py records the validation Dice"
