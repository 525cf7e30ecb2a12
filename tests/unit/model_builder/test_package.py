"""The SDK stands alone: importing it pulls in neither the platform nor MONAI/torch, and it builds its own wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "model_builder"


def test_importing_the_sdk_imports_neither_the_platform_nor_monai_nor_torch():
    code = ("import sys, model_builder, model_builder.monai_bundle; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'functions', 'monai', 'torch', 'scipy'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.timeout(240)
def test_the_sdk_builds_a_wheel_with_its_schema_and_templates(tmp_path):
    source = tmp_path / "model_builder"  # a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    wheel, = (tmp_path / "dist").glob("medcloudcare_model_builder-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "model_builder/__init__.py" in names
    assert "model_builder/schema/manifest.schema.json" in names
    for module in ("runtime/__main__.py", "runtime/codec.py", "validation/static.py"):
        assert f"model_builder/{module}" in names
    assert not any(name.startswith(("model_builder/deploy/", "model_builder/samples/")) for name in names)
    for template in ("segmentation_monai", "classification", "processing_classical"):
        assert f"model_builder/templates/{template}/app.py" in names
        assert f"model_builder/templates/{template}/manifest.json" in names
    assert not any(name.startswith(("functions/", "tests/")) for name in names)
