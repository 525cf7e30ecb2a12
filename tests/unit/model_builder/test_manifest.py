"""parse_manifest reports every problem at once with its JSON path, and agrees with the shipped JSON Schema."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from model_builder import Code, InferType, Label, ManifestError, manifest_schema, parse_manifest

VALID = {
    "name": "Liver segmentation",
    "description": "A 3-D U-Net.",
    "architecture": "UNet",
    "task": "segmentation",
    "modality": "CT",
    "labels": [
        {"name": "Liver", "code": {"value": "10200004", "scheme": "SCT", "meaning": "Liver"}, "colour": [221, 130, 101]},
        {"name": "Spleen"},
    ],
    "version_notes": "Trained on 40 more series.",
    "entry_point": "app:SegmentationApplication",
    "requirements": ["monai==1.5.1", "torch==2.8.0"],
}


def _broken() -> dict:
    data = copy.deepcopy(VALID)
    del data["architecture"]
    data["task"] = "segmentaton"
    data["labels"][1]["colour"] = [0, 0, 300]
    data["labels"][0]["code"]["scheme"] = ""
    data["entry_point"] = "app"
    data["requirements"] = ["monai==1.5.1", "torch>=2"]
    data["weights"] = "model.pt"
    return data


def _schema_paths(data: dict) -> set[str]:
    """The JSON Schema's errors as paths, a missing or extra property named at its own path as parse_manifest does."""
    schema = manifest_schema()
    validator = jsonschema.Draft202012Validator(schema)
    paths = set()
    for error in validator.iter_errors(data):
        if error.validator == "required":
            paths.update(f"{error.json_path}.{key}" for key in error.validator_value if key not in error.instance)
        elif error.validator == "additionalProperties":
            allowed = error.schema["properties"]
            paths.update(f"{error.json_path}.{key}" for key in error.instance if key not in allowed)
        else:
            paths.add(error.json_path)
    return paths


def test_a_valid_manifest_parses_into_typed_fields():
    manifest = parse_manifest(VALID)
    assert manifest.task is InferType.SEGMENTATION
    assert manifest.labels == (Label("Liver", Code("10200004", "SCT", "Liver"), (221, 130, 101)), Label("Spleen"))
    assert manifest.requirements == ("monai==1.5.1", "torch==2.8.0")
    assert parse_manifest(manifest.to_json()) == manifest


def test_every_problem_is_reported_at_once_with_its_path():
    with pytest.raises(ManifestError) as refused:
        parse_manifest(_broken())
    paths = [path for path, _ in refused.value.problems]
    assert sorted(paths) == sorted([
        "$.architecture", "$.task", "$.labels[0].code.scheme", "$.labels[1].colour[2]", "$.entry_point",
        "$.requirements[1]", "$.weights",
    ])
    messages = dict(refused.value.problems)
    assert "is required" in messages["$.architecture"]
    assert "'torch>=2' is not pinned" in messages["$.requirements[1]"]
    assert "$.labels[1].colour[2]" in str(refused.value)


@pytest.mark.parametrize(("change", "path"), [
    ({"task": "detection", "labels": []}, "$.labels"),
    ({"modality": "ct"}, "$.modality"),
    ({"name": "  "}, "$.name"),
    ({"requirements": ["numpy==2.4.6", "numpy==2.4.6"]}, "$.requirements"),
    ({"labels": [{"name": "Liver", "code": "10200004"}]}, "$.labels[0].code"),
    ({"labels": [{"name": "Liver", "color": [1, 2, 3]}]}, "$.labels[0].color"),
])
def test_single_problems_are_found_at_their_path(change, path):
    with pytest.raises(ManifestError) as refused:
        parse_manifest({**VALID, **change})
    assert [p for p, _ in refused.value.problems] == [path]


def test_a_processing_model_may_have_no_labels():
    assert parse_manifest({**VALID, "task": "processing", "labels": []}).labels == ()


def test_duplicate_label_names_are_refused_beyond_the_schema():
    data = {**VALID, "labels": [{"name": "Liver"}, {"name": "Liver"}]}
    with pytest.raises(ManifestError, match="'Liver' appears more than once"):
        parse_manifest(data)


def test_not_an_object_is_refused():
    with pytest.raises(ManifestError) as refused:
        parse_manifest(["name"])
    assert refused.value.problems == [("$", "the manifest must be a JSON object")]


@pytest.mark.parametrize("change", [
    {},
    {"task": "processing", "labels": []},
    {"task": "detection", "labels": []},
    {"modality": "ct"},
    {"name": "  "},
    {"requirements": ["numpy==2.4.6", "numpy==2.4.6"]},
    {"labels": [{"name": "Liver", "code": "10200004"}]},
    {"labels": [{"name": "Liver", "color": [1, 2, 3]}]},
])
def test_the_json_schema_agrees_with_parse_manifest(change):
    data = {**VALID, **change}
    try:
        parse_manifest(data)
        found = set()
    except ManifestError as e:
        found = {path for path, _ in e.problems}
    assert _schema_paths(data) == found


def test_the_json_schema_finds_the_same_problems_in_the_broken_manifest():
    with pytest.raises(ManifestError) as refused:
        parse_manifest(_broken())
    assert _schema_paths(_broken()) == {path for path, _ in refused.value.problems}
