"""Static validation of an unpacked bundle: manifest, code, entry point, task declarations (with the DICOM
attributes they need) and pinned requirements.

Nothing of the bundle is imported or executed: JSON is parsed, Python is read with `ast`. Every problem is
reported at once, at the file and line the researcher edits: a manifest problem at the line of its key in
manifest.json (or in configs/metadata.json for a MONAI model-zoo bundle), a code problem at its statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ManifestError
from ..labels import InferType
from ..manifest import ENTRY_POINT, REQUIREMENT, Manifest, parse_manifest
from ..monai_bundle import ENTRY_POINT as MONAI_ENTRY_POINT
from ..monai_bundle import manifest_from_monai
from .code_checks import Locate, agreement_problems, entry_problems, label_call_problems, task_inputs, task_types
from .jsonpos import JsonPositions
from .problems import Problem
from .pysource import Resolver, parse_modules
from .requirements import requirement_problem

MANIFEST = "manifest.json"
METADATA = "configs/metadata.json"
INFERENCE = "configs/inference.json"
MONAI_WEIGHTS = "models/model.pt"
# Where in configs/metadata.json each manifest field of a MONAI bundle comes from (first present wins), and a hint.
_MONAI_SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "name": (("$.name",), ""),
    "description": (("$.description",), ""),
    "version_notes": (("$.changelog", "$.version"), ""),
    "task": (("$.network_data_format.outputs", "$.task"), ": set the first output's \"format\" to"
             " \"segmentation\" (\"classes\" for a classifier) or name the task in \"task\""),
    "modality": (("$.network_data_format.inputs", "$.modality"), ": add \"modality\": \"CT\" (a DICOM modality)"
                 " to the first input of network_data_format.inputs"),
    "labels": (("$.network_data_format.outputs",), ": name the output channels in its \"channel_def\""),
}
_MONAI_PINS = {"monai": "$.monai_version", "torch": "$.pytorch_version", "numpy": "$.numpy_version"}


@dataclass
class _Declared:
    """What the bundle's manifest says, as far as it could be read, and where each field is."""

    locate: Locate
    manifest: Manifest | None = None
    problems: list[Problem] = field(default_factory=list)
    entry_point: str | None = None
    task: InferType | None = None
    requirements: list[tuple[str, str]] = field(default_factory=list)  # (requirement, JSON path)


@dataclass(frozen=True)
class Analysis:
    """What reading a bundle found: its manifest (None if invalid), every static problem (valid if none), and the
    DICOM keywords its tasks declare as inputs (sorted)."""

    manifest: Manifest | None
    problems: list[Problem]
    inputs: tuple[str, ...] = ()


def check_bundle(root: Path) -> tuple[Manifest | None, list[Problem]]:
    """The bundle's manifest (None if it is invalid) and every static problem; the bundle is valid if none."""
    analysis = analyse_bundle(root)
    return analysis.manifest, analysis.problems


def analyse_bundle(root: Path) -> Analysis:
    """The manifest, every static problem and the declared inputs of an unpacked bundle (nothing of it runs)."""
    root = Path(root)
    modules, syntax = parse_modules(root)
    resolver = Resolver(modules)
    if (root / MANIFEST).is_file():
        declared = _from_manifest(root)
    elif (root / METADATA).is_file():
        declared = _from_monai(root)
    else:
        declared = _Declared(locate=lambda path: (MANIFEST, None, None), problems=[_no_manifest(root)])
    problems = [*declared.problems, *syntax]
    types, task_problems = task_types(resolver)
    inputs, input_problems = task_inputs(resolver)
    problems += task_problems + input_problems + label_call_problems(resolver)
    if declared.entry_point:
        problems += entry_problems(resolver, declared.entry_point, declared.locate, {p.file for p in syntax})
        if declared.task is not None:
            problems += agreement_problems(resolver, declared.entry_point, declared.task, types, declared.locate)
    for requirement, path in declared.requirements:
        if (message := requirement_problem(requirement)) is not None:
            problems.append(Problem("static", *declared.locate(path), message))
    return Analysis(declared.manifest, list(dict.fromkeys(problems)), inputs)


def _read_json(root: Path, name: str) -> tuple[Any, JsonPositions | None, list[Problem]]:
    """The parsed JSON file, its positions, or the problem (a syntax error at its line and column)."""
    try:
        text = (root / name).read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        return None, None, [Problem("manifest", name, None, None, f"is not UTF-8 text (byte {e.start}): save it as"
                                    " UTF-8")]
    try:
        return json.loads(text), JsonPositions(text), []
    except json.JSONDecodeError as e:
        return None, None, [Problem("manifest", name, e.lineno, e.colno, f"not valid JSON: {e.msg}")]
    except RecursionError:
        return None, None, [Problem("manifest", name, None, None, "is nested too deeply to be read")]


def _locator(file: str, positions: JsonPositions | None) -> Locate:
    def locate(path: str) -> tuple[str, int | None, int | None]:
        if positions is None:
            return file, None, None
        position = positions.find(path)
        return file, position.line, position.column
    return locate


def _field(path: str) -> str:
    return path.removeprefix("$.") if path != "$" else "the manifest"


def _from_manifest(root: Path) -> _Declared:
    data, positions, problems = _read_json(root, MANIFEST)
    declared = _Declared(locate=_locator(MANIFEST, positions), problems=problems)
    if positions is None:
        return declared
    try:
        declared.manifest = parse_manifest(data)
    except ManifestError as e:
        for path, message in e.problems:
            path = _duplicate_label_path(data, path, message)
            declared.problems.append(Problem("manifest", *declared.locate(path), f"{_field(path)}: {message}"))
    if not isinstance(data, dict):
        return declared
    entry_point, task, requirements = data.get("entry_point"), data.get("task"), data.get("requirements")
    if isinstance(entry_point, str) and ENTRY_POINT.match(entry_point):
        declared.entry_point = entry_point
    if task in {t.value for t in InferType}:
        declared.task = InferType(task)
    if isinstance(requirements, list):
        declared.requirements = [(r, f"$.requirements[{i}]") for i, r in enumerate(requirements)
                                 if isinstance(r, str) and REQUIREMENT.match(r)]
    return declared


def _duplicate_label_path(data: Any, path: str, message: str) -> str:
    """For "label name 'X' appears more than once", the path of the name's second occurrence."""
    labels = data.get("labels") if isinstance(data, dict) else None
    if path != "$.labels" or "more than once" not in message or not isinstance(labels, list):
        return path
    names = [label.get("name") if isinstance(label, dict) else None for label in labels]
    repeated = [i for i, name in enumerate(names) if name is not None and repr(name) in message
                and names.index(name) < i]
    return f"$.labels[{repeated[0]}].name" if repeated else path


def _from_monai(root: Path) -> _Declared:
    """A MONAI model-zoo bundle: its manifest comes from configs/metadata.json, its code is the SDK's."""
    data, positions, problems = _read_json(root, METADATA)
    declared = _Declared(locate=_locator(METADATA, positions), problems=problems)
    if (root / INFERENCE).is_file():
        _, inference, inference_problems = _read_json(root, INFERENCE)
        declared.problems += inference_problems
    else:
        inference = None
        declared.problems.append(Problem("manifest", INFERENCE, None, None, "is missing: a MONAI bundle defines its"
                                         " network (network_def), preprocessing and inferer there"))
    if not (root / MONAI_WEIGHTS).is_file():
        declared.problems.append(Problem("manifest", MONAI_WEIGHTS, None, None, "is missing: a MONAI bundle's"
                                         " trained weights (the network's state dict) go there"))
    if positions is None or declared.problems:
        return declared
    try:
        declared.manifest = manifest_from_monai(root)
    except ManifestError as e:
        for path, message in e.problems:
            declared.problems.append(_monai_problem(path.split(" → ", 1)[-1], message, positions, inference))
        return declared
    declared.entry_point, declared.task = MONAI_ENTRY_POINT, declared.manifest.task
    declared.requirements = [(r, _MONAI_PINS.get(name, f"$.optional_packages_version.{name}"))
                             for r in declared.manifest.requirements for name in [r.split("==", 1)[0]]]
    return declared


def _monai_problem(path: str, message: str, metadata: JsonPositions, inference: JsonPositions | None) -> Problem:
    """A problem of the manifest made from metadata.json, at the metadata (or inference.json) key it comes from."""
    name = _field(path).split("[", 1)[0].split(".", 1)[0]
    if name == "architecture":
        where = inference.find("$.network_def") if inference else None
        return Problem("manifest", INFERENCE, where and where.line, where and where.column,
                       f"architecture: {message}: name the network class in network_def's \"_target_\"")
    sources, hint = _MONAI_SOURCES.get(name, (("$",), ""))
    source = next((s for s in sources if metadata.has(s)), sources[-1])
    where = metadata.find(source)
    return Problem("manifest", METADATA, where.line, where.column, f"{_field(path)}: {message}{hint}")


def _no_manifest(root: Path) -> Problem:
    """No manifest at the root; says so, and where it is when the archive holds one folder with the bundle."""
    found = [path for name in (MANIFEST, METADATA) for path in sorted(root.glob(f"*/{name}")) if path.is_file()]
    hint = (f" (found {found[0].relative_to(root).as_posix()}: put the contents of"
            f" {found[0].relative_to(root).parts[0]}/ at the root of the archive)") if found else ""
    return Problem("manifest", MANIFEST, None, None, "the bundle has no manifest.json at its root, nor the"
                   f" configs/metadata.json of a MONAI bundle{hint}")
