"""train.py for real, tiny: it writes a complete bundle that loads, and the same seed gives the same weights."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from model_builder.monai_bundle import BundleApplication

TINY = ["--epochs", "1", "--cases", "2", "--validation-cases", "1", "--size", "32", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_runs(heart_bundle, tmp_path_factory):
    """Three tiny trainings side by side: two with seed 0, one with seed 1."""
    root = tmp_path_factory.mktemp("heart-training")
    runs = {name: root / name for name in ("first", "again", "other_seed")}
    processes = {name: subprocess.Popen(
        [sys.executable, str(heart_bundle / "train.py"), *TINY, "--seed", "1" if name == "other_seed" else "0",
         "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, out in runs.items()}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name}: {stderr[-2000:]}"
        assert "validation Dice" in stdout
    return runs


def _weights(bundle) -> dict[str, torch.Tensor]:
    return torch.load(bundle / "models" / "model.pt", map_location="cpu", weights_only=True)


def test_train_writes_a_complete_bundle_that_the_runtime_loads_and_runs(tiny_runs, small_ct):
    out = tiny_runs["first"]
    assert (out / "configs" / "inference.json").is_file() and (out / "LICENSE").is_file()
    application = BundleApplication(out)
    assert application.run(small_ct.volume).array.shape == small_ct.volume.shape


def test_the_same_seed_trains_the_same_weights(tiny_runs):
    first, again = _weights(tiny_runs["first"]), _weights(tiny_runs["again"])
    assert first.keys() == again.keys()
    assert all(torch.equal(first[key], again[key]) for key in first)


def test_another_seed_trains_other_weights(tiny_runs):
    first, other = _weights(tiny_runs["first"]), _weights(tiny_runs["other_seed"])
    assert any(not torch.equal(first[key], other[key]) for key in first)
