"""The sample bundles, fresh synthetic CTs (seeds the training never used) and the heart U-Net loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_builder.samples.synthetic_ct import Case, dicomgen_case

SAMPLES = Path(__file__).resolve().parents[4] / "model_builder" / "samples"
HEART_BUNDLE = SAMPLES / "ct_heart_unet"
BONE_BUNDLE = SAMPLES / "ct_bone"
FRESH_SEED = 7  # training used training_case(1000...) and (5000...); dicomgen's noise seed 7 is new to it


@pytest.fixture(scope="session")
def heart_bundle() -> Path:
    """The U-Net sample, a bundle in the MONAI model-zoo layout."""
    return HEART_BUNDLE


@pytest.fixture(scope="session")
def bone_bundle() -> Path:
    """The classical sample, a bundle with manifest.json and app.py."""
    return BONE_BUNDLE


@pytest.fixture(scope="session")
def fresh_ct() -> Case:
    """A series as the platform generates it: 64 slices of 256 × 256, 2.5 mm, read back from DICOM."""
    return dicomgen_case(FRESH_SEED)


@pytest.fixture(scope="session")
def small_ct() -> Case:
    """A smaller fresh series (32 slices of 128 × 128) for the tests that only need the pipeline to run."""
    return dicomgen_case(FRESH_SEED + 1, slices=32, rows=128, columns=128)


@pytest.fixture(scope="session")
def heart_app():
    """The sample U-Net bundle through the platform's built-in entry point, loaded once."""
    from model_builder.monai_bundle import BundleApplication

    return BundleApplication(HEART_BUNDLE)
