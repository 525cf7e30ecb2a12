"""Bundles for the validation tests: the SDK's real templates as files, and a writer for bundles on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

from model_builder.validation import Problem, check_bundle

TEMPLATES = Path(__file__).resolve().parents[4] / "model_builder" / "templates"
TEMPLATE_NAMES = ("segmentation_monai", "classification", "processing_classical")


def _template_files(name: str) -> dict[str, str]:
    """The editor's files of a template: {path: text}."""
    return {path.name: path.read_text() for path in sorted((TEMPLATES / name).iterdir()) if path.is_file()}


def _write_bundle(root: Path, files: dict[str, str | bytes]) -> Path:
    """The files written under `root` (folders created)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `needle` (the tests' expected positions, found not hard-coded)."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


@pytest.fixture
def classical() -> dict[str, str]:
    """The classical template (processing, no weights): a bundle that passes every check."""
    return _template_files("processing_classical")


@pytest.fixture
def problems_of(tmp_path: Path) -> Callable[[dict[str, str | bytes]], list[Problem]]:
    """Write a bundle from files and return its static problems."""
    def check(files: dict[str, str | bytes]) -> list[Problem]:
        root = _write_bundle(tmp_path / f"bundle{len(list(tmp_path.iterdir()))}", files)
        return check_bundle(root)[1]
    return check


@pytest.fixture
def zoo_metadata() -> dict:
    """configs/metadata.json of a MONAI model-zoo bundle pinned to what this runtime has installed."""
    return {
        "version": "0.1.0", "changelog": {"0.1.0": "first release"},
        "monai_version": metadata.version("monai"), "pytorch_version": metadata.version("torch").split("+")[0],
        "numpy_version": metadata.version("numpy"),
        "name": "Spleen CT segmentation", "task": "spleen segmentation", "description": "A 3-D U-Net.",
        "network_data_format": {
            "inputs": {"image": {"type": "image", "format": "hounsfield", "modality": "CT", "num_channels": 1}},
            "outputs": {"pred": {"type": "image", "format": "segmentation", "num_channels": 2,
                                 "channel_def": {"0": "background", "1": "spleen"}}},
        },
    }


def _zoo_files(metadata_json: dict | str) -> dict[str, str | bytes]:
    """A MONAI model-zoo bundle's files (metadata given as an object, or as text to keep its lines)."""
    text = metadata_json if isinstance(metadata_json, str) else json.dumps(metadata_json, indent=2)
    return {"configs/metadata.json": text,
            "configs/inference.json": json.dumps({"network_def": {"_target_": "UNet", "spatial_dims": 3}}, indent=2),
            "models/model.pt": b"\x80\x02weights"}


@pytest.fixture
def template_files() -> Callable[[str], dict[str, str]]:
    return _template_files


@pytest.fixture
def write_bundle() -> Callable[[Path, dict[str, str | bytes]], Path]:
    return _write_bundle


@pytest.fixture
def line_of() -> Callable[..., int]:
    return _line_of


@pytest.fixture
def zoo_files() -> Callable[[dict | str], dict[str, str | bytes]]:
    return _zoo_files
