"""A bundle's manifest: what the model is and how to start it, parsed with every problem reported at once.

The rules mirror schema/manifest.schema.json (shipped for editors and other tools); parse_manifest also
requires label names to be unique, which JSON Schema cannot express.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .errors import ManifestError
from .labels import Code, InferType, Label

FIELDS = ("name", "description", "architecture", "task", "modality", "labels", "version_notes",
          "entry_point", "requirements")
REQUIRED = ("name", "description", "architecture", "task", "modality", "labels", "entry_point")
ENTRY_POINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
REQUIREMENT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")
LABEL_NAME = re.compile(r"^\S(.{0,62}\S)?$")
CODE_LIMITS = {"value": 64, "scheme": 16, "meaning": 64}


@dataclass(frozen=True)
class Manifest:
    """manifest.json of a bundle, parsed."""

    name: str
    description: str
    architecture: str
    task: InferType
    modality: str
    labels: tuple[Label, ...]
    entry_point: str
    version_notes: str = ""
    requirements: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """The manifest as the JSON object `parse_manifest` reads."""
        labels = []
        for label in self.labels:
            item: dict[str, Any] = {"name": label.name}
            if label.code:
                item["code"] = {"value": label.code.value, "scheme": label.code.scheme, "meaning": label.code.meaning}
            if label.colour:
                item["colour"] = list(label.colour)
            labels.append(item)
        return {"name": self.name, "description": self.description, "architecture": self.architecture,
                "task": self.task.value, "modality": self.modality, "labels": labels,
                "version_notes": self.version_notes, "entry_point": self.entry_point,
                "requirements": list(self.requirements)}


def manifest_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, as shipped in the package."""
    text = resources.files(__package__).joinpath("schema", "manifest.schema.json").read_text()
    return json.loads(text)


def _text(problems: list, path: str, value: Any, *, min_length: int = 0, max_length: int) -> str | None:
    if not isinstance(value, str):
        problems.append((path, "must be a string"))
        return None
    if len(value) < min_length or (min_length and not value.strip()):
        problems.append((path, "must not be empty"))
    elif len(value) > max_length:
        problems.append((path, f"must be at most {max_length} characters"))
    return value


def _code(problems: list, path: str, value: Any) -> Code | None:
    if not isinstance(value, Mapping):
        problems.append((path, 'must be an object {"value", "scheme", "meaning"}, e.g. a SNOMED CT code'))
        return None
    before = len(problems)
    for key in sorted(set(value) - set(CODE_LIMITS)):
        problems.append((f"{path}.{key}", "is not a field of a code (value, scheme, meaning)"))
    for key, limit in CODE_LIMITS.items():
        if key not in value:
            problems.append((f"{path}.{key}", "is required"))
        else:
            _text(problems, f"{path}.{key}", value[key], min_length=1, max_length=limit)
    return Code(value["value"], value["scheme"], value["meaning"]) if len(problems) == before else None


def _colour(problems: list, path: str, value: Any) -> tuple[int, int, int] | None:
    if not isinstance(value, list) or len(value) != 3:
        problems.append((path, "must be three integers [R, G, B] from 0 to 255"))
        return None
    before = len(problems)
    for i, c in enumerate(value):
        if not isinstance(c, int) or isinstance(c, bool) or not 0 <= c <= 255:
            problems.append((f"{path}[{i}]", "must be an integer from 0 to 255"))
    return tuple(value) if len(problems) == before else None  # type: ignore[return-value]


def _label(problems: list, path: str, value: Any) -> Label | None:
    if not isinstance(value, Mapping):
        problems.append((path, 'must be an object {"name", "code", "colour"}'))
        return None
    before = len(problems)
    for key in sorted(set(value) - {"name", "code", "colour"}):
        problems.append((f"{path}.{key}", "is not a field of a label (name, code, colour)"))
    name = value.get("name")
    if "name" not in value:
        problems.append((f"{path}.name", "is required"))
    elif not isinstance(name, str) or not LABEL_NAME.match(name):
        problems.append((f"{path}.name", "must be 1-64 characters without leading or trailing spaces"))
    code = _code(problems, f"{path}.code", value["code"]) if "code" in value else None
    colour = _colour(problems, f"{path}.colour", value["colour"]) if "colour" in value else None
    return Label(name, code, colour) if len(problems) == before else None


def _labels(problems: list, value: Any, task: InferType | None) -> tuple[Label, ...]:
    if not isinstance(value, list):
        problems.append(("$.labels", "must be a list of labels"))
        return ()
    if len(value) > 255:
        problems.append(("$.labels", "must have at most 255 labels"))
    if not value and task not in (None, InferType.PROCESSING):
        problems.append(("$.labels", f"a {task.value} model needs at least one label"))
    labels = [_label(problems, f"$.labels[{i}]", item) for i, item in enumerate(value)]
    names = [label.name for label in labels if label]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(("$.labels", f"label name {name!r} appears more than once"))
    return tuple(label for label in labels if label)


def _requirements(problems: list, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.append(("$.requirements", 'must be a list of pinned requirements such as "numpy==2.4.6"'))
        return ()
    for i, item in enumerate(value):
        if not isinstance(item, str) or not REQUIREMENT.match(item):
            problems.append((f"$.requirements[{i}]", f"{item!r} is not pinned: write it as name==version"))
    if len(set(map(str, value))) != len(value):
        problems.append(("$.requirements", "lists a requirement more than once"))
    return tuple(value)


def parse_manifest(data: Any) -> Manifest:
    """The manifest in `data` (parsed JSON), or `ManifestError` listing every problem with its JSON path."""
    if not isinstance(data, Mapping):
        raise ManifestError([("$", "the manifest must be a JSON object")])
    problems: list[tuple[str, str]] = []
    for key in sorted(set(data) - set(FIELDS)):
        problems.append((f"$.{key}", f"is not a manifest field (expected: {', '.join(FIELDS)})"))
    for key in REQUIRED:
        if key not in data:
            problems.append((f"$.{key}", "is required"))
    name = _text(problems, "$.name", data["name"], min_length=1, max_length=128) if "name" in data else None
    description = _text(problems, "$.description", data["description"], max_length=4000) \
        if "description" in data else None
    architecture = _text(problems, "$.architecture", data["architecture"], min_length=1, max_length=128) \
        if "architecture" in data else None
    task = None
    if "task" in data:
        try:
            task = InferType(data["task"])
        except ValueError:
            problems.append(("$.task", f"{data['task']!r} is not one of {[t.value for t in InferType]}"))
    modality = data.get("modality")
    if "modality" in data and not (isinstance(modality, str) and MODALITY.match(modality)):
        problems.append(("$.modality", f"{modality!r} is not a DICOM modality code such as 'CT' or 'MR'"))
    labels = _labels(problems, data["labels"], task) if "labels" in data else ()
    notes = _text(problems, "$.version_notes", data.get("version_notes", ""), max_length=4000)
    entry_point = data.get("entry_point")
    if "entry_point" in data and not (isinstance(entry_point, str) and ENTRY_POINT.match(entry_point)):
        problems.append(("$.entry_point", f"{entry_point!r} must be 'module:Class', e.g. 'app:BodyMask'"))
    requirements = _requirements(problems, data["requirements"]) if "requirements" in data else ()
    if problems:
        raise ManifestError(problems)
    return Manifest(name=name, description=description, architecture=architecture, task=task,  # type: ignore[arg-type]
                    modality=modality, labels=labels, entry_point=entry_point, version_notes=notes or "",
                    requirements=requirements)
