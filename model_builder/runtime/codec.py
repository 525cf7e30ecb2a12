"""The one translation between SDK objects and V2 messages, used by the runtime and by the platform calling models.

Request: the input tensor "volume" [z, y, x]; request parameters carry the rest of the `Volume`:
`spacing`, `origin` (JSON strings of three numbers), `direction` (JSON string of a 3x3 list, rows = array axes),
`attributes` (JSON string of an object, DICOM keyword → value) and `modality` (a string).
Response: the outputs' tensors (see `OUTPUT_TENSORS`); each carries `parameters.output_index`, its output's
position in the model's list, and a tensor name gets the suffix `_<index>` when an earlier output used the name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..outputs import Box, Boxes, ImageOutput, LabelVolume, Output, Point, Points, Scores
from ..volume import Volume
from .errors import ProtocolError
from .wire import MAX_JSON_BYTES, Tensor, encode, parse

INPUT = "volume"
NO_SCORE = -1.0  # a Box or Point without a score: scores are probabilities, so -1 cannot be one
# The tensors of each output kind, by name (before any `_<index>` suffix).
OUTPUT_TENSORS: dict[type[Output], tuple[str, ...]] = {
    LabelVolume: ("labels",),
    Scores: ("scores",),
    Boxes: ("boxes_start", "boxes_end", "boxes_label", "boxes_score"),
    Points: ("points_position", "points_label", "points_score"),
    ImageOutput: ("image",),
}
_NAME = re.compile(r"^(?P<base>[a-z_]+?)(_(?P<index>\d+))?$")


def _json_parameter(parameters: Mapping[str, Any], name: str, default: Any) -> Any:
    if name not in parameters:
        return default
    raw = parameters[name]
    if not isinstance(raw, str):
        raise ProtocolError(f"parameter '{name}' must be a JSON string (V2 parameters cannot hold lists or objects),"
                            f" e.g. \"{json.dumps(default)}\"; got {raw!r}")
    try:
        return json.loads(raw, parse_constant=_no_constant(name))
    except json.JSONDecodeError as e:
        raise ProtocolError(f"parameter '{name}' is not valid JSON: {e}") from e


def _no_constant(name: str) -> Callable[[str], None]:
    def refuse(constant: str) -> None:
        raise ProtocolError(f"parameter '{name}' holds {constant}: geometry must be finite numbers")
    return refuse


def volume_parameters(volume: Volume) -> dict[str, Any]:
    """The request parameters that carry a volume's geometry, modality and DICOM attributes."""
    return {"spacing": json.dumps(list(volume.spacing)), "origin": json.dumps(list(volume.origin)),
            "direction": json.dumps(np.asarray(volume.direction).tolist()),
            "attributes": json.dumps(dict(volume.attributes), default=str), "modality": volume.modality}


def encode_request(volume: Volume, *, binary: bool = True, id: str = "",
                   outputs_binary: bool | None = None) -> tuple[bytes, dict[str, str]]:
    """A V2 infer request for `volume`; outputs are asked binary like the input unless `outputs_binary` says."""
    parameters: dict[str, Any] = volume_parameters(volume)
    parameters["binary_data_output"] = binary if outputs_binary is None else outputs_binary
    message: dict[str, Any] = {"parameters": parameters}
    if id:
        message["id"] = id
    return encode(message, "inputs", [Tensor(INPUT, volume.array)], binary=binary)


def decode_request(body: bytes | bytearray | memoryview, headers: Mapping[str, str], *,
                   max_json_bytes: int = MAX_JSON_BYTES) -> Volume:
    """The `Volume` of a V2 infer request, or `ProtocolError` saying what is malformed."""
    header, tensors = parse(body, headers, "inputs", max_json_bytes=max_json_bytes)
    return volume_from(header, tensors)


def volume_from(header: Mapping[str, Any], tensors: Sequence[Tensor]) -> Volume:
    """The `Volume` of a parsed request: its "volume" tensor and its parameters."""
    by_name = {t.name: t for t in tensors}
    if INPUT not in by_name:
        raise ProtocolError(f"the request has no input tensor '{INPUT}' (got {sorted(by_name)}):"
                            f" send the series as '{INPUT}', shape [z, y, x]")
    if extra := sorted(set(by_name) - {INPUT}):
        raise ProtocolError(f"unknown input tensor(s) {extra}: this model takes one input, '{INPUT}'")
    array = by_name[INPUT].array
    if array.ndim != 3 or 0 in array.shape:
        raise ProtocolError(f"input '{INPUT}' must have a non-empty 3-D shape [z, y, x], got {list(array.shape)}")
    parameters = header.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise ProtocolError("the request's parameters must be a JSON object")
    modality = parameters.get("modality", "")
    if not isinstance(modality, str):
        raise ProtocolError(f"parameter 'modality' must be a string such as \"CT\", got {modality!r}")
    attributes = _json_parameter(parameters, "attributes", {})
    if not isinstance(attributes, dict):
        raise ProtocolError("parameter 'attributes' must be a JSON object of DICOM keyword → value")
    try:
        return Volume(array, spacing=_json_parameter(parameters, "spacing", [1.0, 1.0, 1.0]),
                      origin=_json_parameter(parameters, "origin", [0.0, 0.0, 0.0]),
                      direction=_json_parameter(parameters, "direction", np.eye(3).tolist()),
                      attributes=attributes, modality=modality)
    except InputError as e:
        raise ProtocolError(f"parameter '{e.field.removeprefix('Volume.')}': {e.detail}") from e


def _scored(score: float | None) -> float:
    return NO_SCORE if score is None else float(score)


def output_tensors(output: Output) -> list[Tensor]:
    """The V2 tensors of one output, named as in `OUTPUT_TENSORS` (no index parameters yet)."""
    if isinstance(output, LabelVolume):
        array = np.asarray(output.array)
        dtype = np.uint8 if array.size == 0 or int(array.max()) <= 255 else np.uint16
        return [Tensor("labels", array.astype(dtype, copy=False))]
    if isinstance(output, Scores):
        names = list(output.scores)
        return [Tensor("scores", np.array([output.scores[n] for n in names], dtype=np.float32),
                       {"labels": json.dumps(names)})]
    if isinstance(output, Boxes):
        boxes = list(output.boxes)
        return [Tensor("boxes_start", np.array([b.start for b in boxes], dtype=np.int32).reshape(-1, 3)),
                Tensor("boxes_end", np.array([b.end for b in boxes], dtype=np.int32).reshape(-1, 3)),
                Tensor("boxes_label", np.array([b.label for b in boxes], dtype=np.int32)),
                Tensor("boxes_score", np.array([_scored(b.score) for b in boxes], dtype=np.float32))]
    if isinstance(output, Points):
        points = list(output.points)
        return [Tensor("points_position", np.array([p.position for p in points], dtype=np.float32).reshape(-1, 3)),
                Tensor("points_label", np.array([p.label for p in points], dtype=np.int32)),
                Tensor("points_score", np.array([_scored(p.score) for p in points], dtype=np.float32))]
    if isinstance(output, ImageOutput):
        return [Tensor("image", np.asarray(output.array), {"description": output.description})]
    raise ProtocolError(f"{type(output).__name__} is not an output kind the V2 codec knows: use one of"
                        f" {[k.__name__ for k in OUTPUT_TENSORS]}")


def response_tensors(outputs: Sequence[Output]) -> list[Tensor]:
    """Every output's tensors, each tagged with `output_index`, names made unique with an `_<index>` suffix."""
    tensors, used = [], set()
    for index, output in enumerate(outputs):
        for tensor in output_tensors(output):
            name = tensor.name if tensor.name not in used else f"{tensor.name}_{index}"
            used.add(name)
            tensors.append(Tensor(name, tensor.array, {**tensor.parameters, "output_index": index}))
    return tensors


def encode_response(outputs: Sequence[Output], *, model_name: str, model_version: str = "", id: str = "",
                    binary: bool | Collection[str] = True,
                    parameters: Mapping[str, Any] | None = None,
                    names: Collection[str] | None = None) -> tuple[bytes, dict[str, str]]:
    """A V2 infer response; `binary` is True, False or the names of the tensors to send binary; `names` filters."""
    message: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if id:
        message["id"] = id
    if parameters:
        message["parameters"] = dict(parameters)
    tensors = [t for t in response_tensors(outputs) if names is None or t.name in names]
    return encode(message, "outputs", tensors, binary=binary)


def decode_response(body: bytes | bytearray | memoryview, headers: Mapping[str, str], *,
                    max_json_bytes: int = MAX_JSON_BYTES) -> list[Output]:
    """The outputs of a V2 infer response, in the model's order, or `ProtocolError` if malformed."""
    header, tensors = parse(body, headers, "outputs", max_json_bytes=max_json_bytes)
    groups: dict[int, dict[str, Tensor]] = {}
    for tensor in tensors:
        index = tensor.parameters.get("output_index", 0)
        match = _NAME.match(tensor.name)
        if not isinstance(index, int) or index < 0 or not match:
            raise ProtocolError(f"tensor '{tensor.name}' is not an output of this protocol (bad name or output_index)")
        base = match["base"] if match["base"] in _ALL_NAMES else tensor.name
        groups.setdefault(index, {})[base] = tensor
    return [_output(groups[index]) for index in sorted(groups)]


_ALL_NAMES = {name for names in OUTPUT_TENSORS.values() for name in names}


def _need(group: Mapping[str, Tensor], name: str, kind: str) -> np.ndarray:
    if name not in group:
        raise ProtocolError(f"a {kind} output needs the tensor '{name}', got {sorted(group)}")
    return group[name].array


def _score(value: float) -> float | None:
    return None if value == NO_SCORE else float(value)


def _output(group: Mapping[str, Tensor]) -> Output:
    if "labels" in group:
        return LabelVolume(_need(group, "labels", "LabelVolume"))
    if "image" in group:
        return ImageOutput(group["image"].array, str(group["image"].parameters.get("description", "")))
    if "scores" in group:
        try:
            names = json.loads(str(group["scores"].parameters.get("labels", "[]")))
        except json.JSONDecodeError as e:
            raise ProtocolError(f"tensor 'scores': parameter 'labels' must be a JSON list of label names ({e})") from e
        values = group["scores"].array
        if not isinstance(names, list) or len(names) != values.size:
            raise ProtocolError(f"tensor 'scores' has {values.size} values but its 'labels' parameter names {names!r}")
        return Scores({str(n): float(v) for n, v in zip(names, values.ravel(), strict=True)})
    if any(name.startswith("boxes_") for name in group):
        start, end = _need(group, "boxes_start", "Boxes"), _need(group, "boxes_end", "Boxes")
        label, score = _need(group, "boxes_label", "Boxes"), _need(group, "boxes_score", "Boxes")
        if not (start.shape == end.shape == (len(label), 3) and score.shape == label.shape):
            raise ProtocolError("Boxes tensors disagree: start and end must be [n, 3], label and score [n]")
        return Boxes(tuple(Box(int(lab), tuple(map(int, s)), tuple(map(int, e)), _score(sc))
                           for s, e, lab, sc in zip(start, end, label, score, strict=True)))
    if any(name.startswith("points_") for name in group):
        position, label = _need(group, "points_position", "Points"), _need(group, "points_label", "Points")
        score = _need(group, "points_score", "Points")
        if not (position.shape == (len(label), 3) and score.shape == label.shape):
            raise ProtocolError("Points tensors disagree: position must be [n, 3], label and score [n]")
        return Points(tuple(Point(int(lab), tuple(map(float, p)), _score(sc))
                            for p, lab, sc in zip(position, label, score, strict=True)))
    raise ProtocolError(f"tensors {sorted(group)} are not an output this protocol knows")
