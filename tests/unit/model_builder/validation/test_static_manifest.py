"""Manifest problems land on the line of manifest.json (or a MONAI bundle's configs/metadata.json) to edit."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

from model_builder import InferType
from model_builder.validation import Problem, check_bundle
from model_builder.validation.requirements import requirement_problem, satisfies


def manifest_text(classical: dict[str, str], **changes) -> str:
    data = json.loads(classical["manifest.json"])
    data.update(changes)
    return json.dumps(data, indent=2)


def test_a_json_syntax_error_is_reported_at_its_line_and_column(classical, problems_of):
    text = classical["manifest.json"].replace('"task": "processing",', '"task": "processing"')
    assert problems_of({**classical, "manifest.json": text}) == [
        Problem("manifest", "manifest.json", 6, 3, "not valid JSON: Expecting ',' delimiter")]


def test_a_manifest_that_is_not_utf8_is_reported(classical, problems_of):
    problems = problems_of({**classical, "manifest.json": '{"name": "caf\xe9"}'.encode("latin-1")})
    assert [(p.stage, p.file, p.line) for p in problems] == [("manifest", "manifest.json", None)]


def test_each_manifest_problem_is_at_the_line_of_its_key(classical, problems_of, line_of):
    data = json.loads(classical["manifest.json"])
    data["labels"] = [data["labels"][0], {"name": "Lung", "code": {"scheme": "SCT", "meaning": "Lung"},
                                          "colour": [1, 2, 256]}]
    data["task"], data["owner"] = "segmentaton", "me"
    text = json.dumps(data, indent=2)
    problems = problems_of({**classical, "manifest.json": text})
    assert {(p.line, p.message) for p in problems} == {
        (line_of(text, '"owner"'), "owner: is not a manifest field (expected: name, description, architecture, task,"
                                   " modality, labels, version_notes, entry_point, requirements)"),
        (line_of(text, '"task"'), "task: 'segmentaton' is not one of ['segmentation', 'classification', 'detection',"
                                  " 'localisation', 'processing']"),
        (line_of(text, '"code"', 2), "labels[1].code.value: is required"),
        (line_of(text, "256"), "labels[1].colour[2]: must be an integer from 0 to 255"),
    }
    assert {(p.stage, p.file) for p in problems} == {("manifest", "manifest.json")}


def test_a_repeated_label_name_is_reported_at_the_repeat(classical, problems_of, line_of):
    data = json.loads(classical["manifest.json"])
    data["labels"] = [{"name": "Body"}, {"name": "Table"}, {"name": "Body"}]
    text = json.dumps(data, indent=2)
    problems = problems_of({**classical, "manifest.json": text})
    assert [(p.line, p.message) for p in problems] == [
        (line_of(text, '"Body"', 2), "labels[2].name: label name 'Body' appears more than once")]


def test_a_bundle_without_a_manifest_says_so_and_where_a_nested_one_is(classical, problems_of):
    assert [p.message for p in problems_of({"app.py": classical["app.py"]})] == [
        "the bundle has no manifest.json at its root, nor the configs/metadata.json of a MONAI bundle"]
    nested = problems_of({f"body_mask/{name}": text for name, text in classical.items()})
    assert [(p.stage, p.file) for p in nested] == [("manifest", "manifest.json")]
    assert "found body_mask/manifest.json: put the contents of body_mask/ at the root" in nested[0].message


def test_pinned_requirements_must_be_what_the_runtime_has_installed(classical, problems_of, line_of):
    numpy = metadata.version("numpy")
    text = manifest_text(classical, requirements=[f"numpy=={numpy}", "scipy==0.0.1", "surely-not-installed==1.0"])
    problems = problems_of({**classical, "manifest.json": text})
    assert [(p.stage, p.file, p.line) for p in problems] == [
        ("static", "manifest.json", line_of(text, "scipy==0.0.1")),
        ("static", "manifest.json", line_of(text, "surely-not-installed"))]
    assert f"scipy {metadata.version('scipy')} is installed" in problems[0].message
    assert "surely-not-installed is not installed in the model runtime" in problems[1].message


def test_an_unpinned_requirement_is_a_manifest_problem(classical, problems_of, line_of):
    text = manifest_text(classical, requirements=["numpy>=1"])
    assert [(p.stage, p.line) for p in problems_of({**classical, "manifest.json": text})] == [
        ("manifest", line_of(text, "numpy>=1"))]


@pytest.mark.parametrize(("pinned", "installed", "ok"), [
    ("2.13.0", "2.13.0+cpu", True), ("1.5", "1.5.0", True), ("1.5.1", "1.5.0", False),
    ("2.13.0+cpu", "2.13.0+cu121", False), ("2.4.6", "2.4.6", True), ("1.0rc1", "1.0", False)])
def test_version_pins_compare_as_pep_440_equality_does(pinned, installed, ok):
    assert satisfies(pinned, installed) is ok


def test_a_requirement_with_extras_is_checked_by_its_distribution():
    assert requirement_problem(f"numpy[dev]=={metadata.version('numpy')}") is None


def test_a_monai_zoo_bundle_is_validated_through_its_metadata(zoo_metadata, zoo_files, tmp_path, write_bundle):
    manifest, problems = check_bundle(write_bundle(tmp_path / "zoo", zoo_files(zoo_metadata)))
    assert problems == []
    assert manifest.task is InferType.SEGMENTATION and [label.name for label in manifest.labels] == ["spleen"]


def test_zoo_metadata_problems_land_in_configs_metadata_json(zoo_metadata, zoo_files, problems_of, line_of):
    del zoo_metadata["network_data_format"]["inputs"]["image"]["modality"]
    zoo_metadata["monai_version"] = "1.3.0"
    text = json.dumps(zoo_metadata, indent=2)
    problems = problems_of(zoo_files(text))
    assert [(p.stage, p.file, p.line) for p in problems] == [
        ("manifest", "configs/metadata.json", line_of(text, '"inputs"'))]
    assert "modality" in problems[0].message and "add \"modality\": \"CT\"" in problems[0].message
    zoo_metadata["network_data_format"]["inputs"]["image"]["modality"] = "CT"
    # the MONAI version a zoo bundle names is what it was tested with, not a requirement: no problem
    assert problems_of(zoo_files(json.dumps(zoo_metadata, indent=2))) == []


def test_a_zoo_bundle_needs_its_configs_and_weights(zoo_metadata, zoo_files, problems_of):
    files = zoo_files(zoo_metadata)
    files["configs/metadata.json"] = files["configs/metadata.json"].replace('"version": "0.1.0",', '"version": 0.1.0,')
    del files["configs/inference.json"], files["models/model.pt"]
    assert [(p.file, p.line, p.message.split(":")[0]) for p in problems_of(files)] == [
        ("configs/metadata.json", 2, "not valid JSON"),
        ("configs/inference.json", None, "is missing"),
        ("models/model.pt", None, "is missing")]
