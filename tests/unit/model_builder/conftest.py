"""Shared inputs for the SDK's tests: a small CT volume and the labels of a two-structure task."""

from __future__ import annotations

import numpy as np
import pytest

from model_builder import Code, Label, Volume


@pytest.fixture
def ct() -> Volume:
    return Volume(np.full((4, 8, 8), -1000.0), spacing=(2.5, 0.8, 0.8), modality="CT",
                  attributes={"PatientAge": "054Y"})


@pytest.fixture
def labels() -> tuple[Label, ...]:
    return (Label("Liver", Code("10200004", "SCT", "Liver"), (221, 130, 101)), Label("Spleen"))
