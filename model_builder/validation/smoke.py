"""The smoke run's inputs and verdicts: a plausible synthetic series, output checks, a failure at the model's line.

The platform runs a new version once on `synthetic_volume(manifest.modality, inputs=...)` (with the attributes
its tasks declare, and only those) before it becomes a version; `check_outputs` judges what `run()` returned and
`smoke_failure` turns a crash into the researcher's file and line from the traceback the sandboxed runtime wrote
(the bundle is mounted at /bundle there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError, OutputError
from ..manifest import MODALITY, Manifest
from ..outputs import Output
from ..task import OUTPUT_KINDS
from ..volume import Volume
from .dicom_keywords import placeholder
from .problems import Problem

BUNDLE_ROOT = "/bundle"
# Axial slices in patient LPS: array axis z runs to the head (S), y to the back (P), x to the patient's left (L).
_AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
_FIELD_OF_VIEW_MM = (360.0, 380.0)  # y, x
_SLICE_MM = 2.5
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.M)
_FILE_LINE = re.compile(r"(?P<file>[A-Za-z0-9_./-]+\.py):(?P<line>\d+)")


def synthetic_volume(modality: str, *, shape: tuple[int, int, int] = (24, 64, 64), seed: int = 0,
                     attributes: Mapping[str, Any] | None = None, inputs: Iterable[str] | None = None) -> Volume:
    """A plausible series of `modality` (CT in HU with air, body, lungs and bone; MR; PT/NM uptake; else 12-bit)
    on an axial grid with anisotropic spacing and an off-centre origin; `attributes` extend the usual ones.

    With `inputs` (the keywords a version's tasks declare), it carries those attributes only, as the platform
    sends them: the usual value where there is one, else a placeholder of the keyword's VR (`attributes` win)."""
    if not isinstance(modality, str) or not MODALITY.match(modality):
        raise InputError("modality", f"{modality!r} is not a DICOM modality code such as 'CT' or 'MR'")
    if len(shape) != 3 or min(shape) < 1:
        raise InputError("shape", f"must be three positive sizes (z, y, x), got {shape!r}")
    rng = np.random.default_rng(seed)
    body, lungs, bone, organ = _anatomy(shape)
    if modality == "CT":
        array = np.full(shape, -1000.0) + rng.normal(0, 12, shape)
        array[body] = 40 + rng.normal(0, 15, int(body.sum()))
        array[organ] += 20
        array[lungs] = -850 + rng.normal(0, 30, int(lungs.sum()))
        array[bone] = 700 + rng.normal(0, 60, int(bone.sum()))
    elif modality == "MR":
        signal = np.where(body, 400.0, 0.0) + np.where(organ, 250.0, 0.0) - np.where(bone | lungs, 300.0, 0.0)
        noise = rng.normal(0, 12, (2, *shape))
        array = np.hypot(np.clip(signal, 0, None) + noise[0], noise[1])  # magnitude image: Rician noise
    elif modality in ("PT", "NM"):
        array = np.clip(np.where(body, 1.0, 0.0) + np.where(organ, 6.0, 0.0) + rng.normal(0, 0.1, shape), 0, None)
    else:
        array = np.clip(np.where(body, 1500.0, 80.0) + np.where(bone, 1800.0, 0.0) + rng.normal(0, 40, shape), 0, 4095)
    spacing = (_SLICE_MM, _FIELD_OF_VIEW_MM[0] / shape[1], _FIELD_OF_VIEW_MM[1] / shape[2])
    # Centre of voxel 0: the field of view centred on the patient, the table 40 mm low, slices from 300 mm below.
    origin = (-_FIELD_OF_VIEW_MM[1] / 2 + spacing[2] / 2, -_FIELD_OF_VIEW_MM[0] / 2 + spacing[1] / 2 + 40.0, -300.0)
    usual: dict[str, Any] = {"Modality": modality, "PatientAge": "054Y", "PatientSex": "O", "PatientWeight": 70.0,
                             "PatientSize": 1.7, "BodyPartExamined": "CHEST", "SliceThickness": _SLICE_MM,
                             "Manufacturer": "MedCloudCare synthetic"}
    usual.update({"CT": {"KVP": 120.0, "ConvolutionKernel": "STANDARD"},
                  "MR": {"MagneticFieldStrength": 1.5, "RepetitionTime": 500.0, "EchoTime": 15.0}}.get(modality, {}))
    if inputs is not None:
        usual = {keyword: usual[keyword] if keyword in usual else placeholder(keyword) for keyword in inputs}
    return Volume(array.astype(np.float32), spacing=spacing, origin=origin, direction=_AXIAL,
                  attributes={**usual, **(attributes or {})}, modality=modality)


def _anatomy(shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """Masks of body, lungs, spine and an organ as ellipsoids in coordinates from -1 to 1 along each axis."""
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) if n > 1 else np.zeros(1) for n in shape), indexing="ij")

    def ellipsoid(cz: float, cy: float, cx: float, rz: float, ry: float, rx: float) -> np.ndarray:
        return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1

    body = ellipsoid(0, 0, 0, 1.6, 0.6, 0.8)
    lungs = (ellipsoid(0.5, -0.05, -0.38, 0.6, 0.35, 0.25) | ellipsoid(0.5, -0.05, 0.38, 0.6, 0.35, 0.25)) & body
    bone = ellipsoid(0, 0.42, 0, 1.6, 0.12, 0.1) & body
    organ = ellipsoid(-0.5, 0.0, -0.3, 0.5, 0.3, 0.3) & body & ~lungs
    return body, lungs, bone, organ


def check_outputs(manifest: Manifest, volume: Volume, outputs: Output | Sequence[Output] | Any) -> list[Problem]:
    """Every way what `run()` returned misses the task: wrong kind, or not fitting the input or the labels."""
    items = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if not items:
        return [Problem("smoke", None, None, None, "run() returned no output: return one output or a list of them")]
    kinds = OUTPUT_KINDS[manifest.task]
    expected = " or ".join(kind.__name__ for kind in kinds)
    problems = []
    for i, output in enumerate(items):
        name = f"output {i + 1} of {len(items)}" if len(items) > 1 else "the output"
        if not isinstance(output, kinds):
            problems.append(Problem("smoke", None, None, None, f"{name}: a {manifest.task.value} model must return"
                                    f" {expected}, got {type(output).__name__}"))
            continue
        try:
            output.validate(volume, manifest.labels)
        except OutputError as e:
            problems.append(Problem("smoke", None, None, None, f"{name}: {e}"))
        except Exception as e:  # a malformed output can fail its own check in any way; say what it was
            problems.append(Problem("smoke", None, None, None, f"{name}: {type(output).__name__} could not be"
                                    f" checked: {type(e).__name__}: {e}"))
    return problems


def smoke_failure(reason: str, stderr_tail: str, *, bundle_root: str = BUNDLE_ROOT) -> Problem:
    """The smoke run's failure at the researcher's file and line: the last traceback frame inside the bundle
    (or, without a traceback, the last `file.py:line` inside the bundle that the runtime's message names)."""
    prefix = bundle_root.rstrip("/") + "/"
    frames = [(m.group("file")[len(prefix):], int(m.group("line"))) for m in _FRAME.finditer(stderr_tail)
              if m.group("file").startswith(prefix)]
    if not frames:
        frames = [(m.group("file").removeprefix(prefix), int(m.group("line")))
                  for m in _FILE_LINE.finditer(f"{reason}\n{stderr_tail}")
                  if not m.group("file").startswith("/") or m.group("file").startswith(prefix)]
    file, line = frames[-1] if frames else (None, None)
    error = _exception_line(stderr_tail).replace(prefix, "")
    message = f"{reason}: {error}" if error and error not in reason else reason
    return Problem("smoke", file, line, None, message.replace(prefix, ""))


def _exception_line(traceback: str) -> str:
    """The `Type: message` line that ends the last traceback in the text, or ''."""
    lines = traceback.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return ""
    return next((line.strip() for line in lines[starts[-1] + 1:] if line.strip() and not line[0].isspace()), "")
