"""The V2 (Open Inference Protocol) framing: tensors in JSON or in the binary tensor data extension.

A message is a JSON object whose `inputs` (requests) or `outputs` (responses) are tensors
`{"name", "datatype", "shape", "parameters", "data"}`. With the binary extension the JSON comes first,
its length in the `Inference-Header-Content-Length` header, and each binary tensor's bytes follow
in order, `parameters.binary_data_size` long, little-endian, row-major.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ProtocolError

HEADER_LENGTH = "Inference-Header-Content-Length"
# Largest JSON part accepted: a whole volume as JSON numbers would need gigabytes of Python objects.
MAX_JSON_BYTES = 64 * 1024 * 1024

DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"), "UINT8": np.dtype("u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}


@dataclass(frozen=True)
class Tensor:
    """A named array with its V2 parameters (parameter values are strings, numbers or booleans)."""

    name: str
    array: np.ndarray
    parameters: Mapping[str, Any] = field(default_factory=dict)


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of an array's dtype, or `ProtocolError` for dtypes V2 cannot carry."""
    for name, dtype in DATATYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            return name
    raise ProtocolError(f"dtype {array.dtype} has no V2 datatype: use one of bool, (u)int8-64 or float16-64")


def _parameter(value: Any, where: str) -> Any:
    if isinstance(value, bool | str) or (isinstance(value, int | float) and math.isfinite(value)):
        return value
    raise ProtocolError(f"{where}: a V2 parameter is a string, a finite number or a boolean (send lists and"
                        f" objects as JSON strings), got {value!r}")


def check_parameters(parameters: Any, where: str) -> dict[str, Any]:
    """The parameters object of a message or tensor, checked to hold only V2 parameter values."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ProtocolError(f"{where}.parameters must be a JSON object")
    return {str(k): _parameter(v, f"{where}.parameters.{k}") for k, v in parameters.items()}


def encode(message: Mapping[str, Any], key: str, tensors: Sequence[Tensor], *,
           binary: bool | Collection[str] = True) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a message whose `key` ("inputs"/"outputs") holds `tensors`; `binary` names binary ones."""
    header = dict(message)
    header[key] = []
    blobs: list[memoryview] = []
    for tensor in tensors:
        array = np.ascontiguousarray(tensor.array, dtype=DATATYPES[datatype_of(tensor.array)])
        item: dict[str, Any] = {"name": tensor.name, "datatype": datatype_of(array), "shape": list(array.shape),
                                "parameters": check_parameters(tensor.parameters, tensor.name)}
        if binary is True or (not isinstance(binary, bool) and tensor.name in binary):
            blob = memoryview(array).cast("B") if array.size else memoryview(b"")
            item["parameters"]["binary_data_size"] = blob.nbytes
            blobs.append(blob)
        else:
            item["data"] = array.ravel().tolist()
        header[key].append(item)
    try:
        text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    except ValueError as e:
        raise ProtocolError(f"a tensor holds NaN or infinity, which JSON cannot carry: send it binary ({e})") from e
    if not blobs:
        return text, {"Content-Type": "application/json"}
    headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(text))}
    return b"".join([text, *blobs]), headers


def _header_length(headers: Mapping[str, str], size: int) -> int | None:
    raw = next((v for k, v in headers.items() if k.lower() == HEADER_LENGTH.lower()), None)
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError as e:
        raise ProtocolError(f"{HEADER_LENGTH} must be the JSON part's length in bytes, got {raw!r}") from e
    if not 0 < length <= size:
        raise ProtocolError(f"{HEADER_LENGTH} is {length} but the body has {size} bytes")
    return length


def parse(body: bytes | bytearray | memoryview, headers: Mapping[str, str], key: str, *,
          max_json_bytes: int = MAX_JSON_BYTES) -> tuple[dict[str, Any], list[Tensor]]:
    """The JSON part of a message and its `key` tensors, refusing anything malformed with `ProtocolError`."""
    view = memoryview(body).cast("B")
    length = _header_length(headers, view.nbytes)
    json_size = view.nbytes if length is None else length
    if json_size > max_json_bytes:
        raise ProtocolError(f"the JSON part has {json_size} bytes, over the limit of {max_json_bytes}: send tensors"
                            f" with the binary tensor data extension ({HEADER_LENGTH})")
    try:
        header = json.loads(bytes(view[:json_size]), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"the body is not a JSON object: {e}") from e
    if not isinstance(header, dict):
        raise ProtocolError("the body must be a JSON object")
    header["parameters"] = check_parameters(header.get("parameters"), "message")
    items = header.get(key)
    if not isinstance(items, list):
        raise ProtocolError(f"'{key}' must be a list of tensors")
    tensors, offset = [], json_size
    for i, item in enumerate(items):
        tensor, offset = _tensor(item, f"{key}[{i}]", view, offset)
        tensors.append(tensor)
    if offset != view.nbytes:
        raise ProtocolError(f"the body has {view.nbytes - offset} bytes after the last tensor's binary data:"
                            " binary_data_size must add up to the body's length")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise ProtocolError(f"tensor names must be unique, got {names}")
    return header, tensors


def _no_constant(name: str) -> None:
    raise ProtocolError(f"{name} is not valid JSON: a number must be finite")


def _tensor(item: Any, where: str, view: memoryview, offset: int) -> tuple[Tensor, int]:
    if not isinstance(item, dict):
        raise ProtocolError(f"{where} must be a tensor object")
    name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"{where}.name must be a non-empty string")
    where = f"tensor '{name}'"
    if datatype not in DATATYPES:
        raise ProtocolError(f"{where}: datatype {datatype!r} is not supported; use one of {sorted(DATATYPES)}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in shape):
        raise ProtocolError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    parameters = check_parameters(item.get("parameters"), where)
    dtype, count = DATATYPES[datatype], math.prod(shape)
    size = parameters.pop("binary_data_size", None)
    if size is None:
        if "data" not in item:
            raise ProtocolError(f"{where} has neither 'data' nor parameters.binary_data_size")
        return Tensor(name, _from_json(item["data"], dtype, shape, where), parameters), offset
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ProtocolError(f"{where}: binary_data_size must be a non-negative integer, got {size!r}")
    if size != count * dtype.itemsize:
        raise ProtocolError(f"{where}: shape {shape} of {datatype} needs {count * dtype.itemsize} bytes,"
                            f" binary_data_size says {size}")
    if offset + size > view.nbytes:
        raise ProtocolError(f"{where}: binary_data_size {size} runs past the end of the body"
                            f" ({view.nbytes - offset} bytes left)")
    array = np.frombuffer(view[offset:offset + size], dtype=dtype).reshape(shape)
    return Tensor(name, array, parameters), offset + size


def _from_json(data: Any, dtype: np.dtype, shape: list[int], where: str) -> np.ndarray:
    try:
        values = np.asarray(data)
    except ValueError as e:
        raise ProtocolError(f"{where}: data is not a rectangular list of numbers ({e})") from e
    if values.size != math.prod(shape):
        raise ProtocolError(f"{where}: data has {values.size} values, shape {shape} needs {math.prod(shape)}")
    if values.size and values.dtype.kind not in "biuf":
        raise ProtocolError(f"{where}: data must hold only numbers (or booleans for BOOL)")
    if values.size and dtype.kind in "biu" and values.dtype.kind == "f":
        raise ProtocolError(f"{where}: data holds fractions but the datatype is an integer type")
    if values.size and dtype.kind in "iu":
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise ProtocolError(f"{where}: values {values.min()}..{values.max()} do not fit {dtype.name}")
    if values.size and dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ProtocolError(f"{where}: data holds NaN or infinite values")
    return values.astype(dtype).reshape(shape)
