"""From the editor's files (or an uploaded zip) to a checked bundle, or every problem and no version."""

from __future__ import annotations

import json
import zipfile

import pytest

from model_builder.validation import ValidationFailed, validate_archive, validate_files, validate_static


def test_the_editors_files_and_weights_become_a_checked_bundle(template_files, tmp_path):
    weights = tmp_path / "upload"
    weights.write_bytes(b"\x00" * 4096)
    checked = validate_files(template_files("segmentation_monai"), {"models/model.pt": weights}, workdir=tmp_path)
    assert checked.manifest.name == "Liver segmentation" and checked.root.parent == tmp_path
    assert (checked.root / "models" / "model.pt").read_bytes() == weights.read_bytes()
    assert checked.bundle.path.exists() and len(checked.bundle.digest) == 64
    again = validate_files(template_files("segmentation_monai"), {"models/model.pt": weights}, workdir=tmp_path)
    assert again.bundle.digest == checked.bundle.digest and again.root != checked.root


def test_a_failing_bundle_reports_every_problem_and_leaves_no_zip(classical, tmp_path):
    manifest = classical["manifest.json"].replace('"CT"', '"computed tomography"')
    files = {**classical, "manifest.json": manifest, "app.py": classical["app.py"].replace("(Application)", "")}
    with pytest.raises(ValidationFailed) as caught:
        validate_files(files, {}, workdir=tmp_path)
    assert [(p.stage, p.file) for p in caught.value.problems] == [("manifest", "manifest.json"), ("static", "app.py")]
    assert not list(tmp_path.glob("*.zip"))
    with pytest.raises(ValidationFailed) as caught:
        validate_files({**classical, "../x.py": ""}, {}, workdir=tmp_path)
    assert [(p.stage, p.file) for p in caught.value.problems] == [("archive", "../x.py")]


def test_an_uploaded_zoo_zip_is_checked_through_its_metadata(zoo_metadata, zoo_files, tmp_path):
    path = tmp_path / "zoo.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in zoo_files(zoo_metadata).items():
            archive.writestr(name, content)
    checked = validate_archive(path, workdir=tmp_path)
    assert checked.manifest.entry_point == "model_builder.monai_bundle:BundleApplication"
    assert validate_static(checked.root) == (checked.manifest, [])
    zoo_metadata["network_data_format"]["outputs"]["pred"]["channel_def"] = {"0": "background"}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in zoo_files(json.dumps(zoo_metadata, indent=2)).items():
            archive.writestr(name, content)
    with pytest.raises(ValidationFailed) as caught:
        validate_archive(path, workdir=tmp_path)
    assert [(p.stage, p.file) for p in caught.value.problems] == [("manifest", "configs/metadata.json")]
    assert caught.value.problems[0].message.startswith("labels: a segmentation model needs at least one label")
