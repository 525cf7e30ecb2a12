"""The V2 endpoints of one served model, independent of HTTP plumbing: path and body in, `Reply` out."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..labels import InferType
from .codec import INPUT, encode_response, volume_from
from .errors import ModelFailedError, ModelRuntimeError, ProtocolError
from .loader import LoadedModel
from .wire import MAX_JSON_BYTES, parse

log = logging.getLogger(__name__)

SERVER_NAME = "medcloudcare-model-runtime"
SERVER_VERSION = "0.1.0"
PLATFORM = "medcloudcare-sdk"
EXTENSIONS = ["binary_tensor_data"]
_ROUTE = re.compile(r"^/v2/models/(?P<name>[^/]+)(/versions/(?P<version>[^/]+))?(?P<action>/ready|/infer)?/?$")
# The tensors each task type answers with: (name, datatype, shape); -1 is a dimension known per request.
_VOLUME_SHAPE = [-1, -1, -1]
_OUTPUTS: dict[InferType, list[tuple[str, str, list[int]]]] = {
    InferType.SEGMENTATION: [("labels", "UINT8", _VOLUME_SHAPE)],
    InferType.CLASSIFICATION: [("scores", "FP32", [-1])],
    InferType.DETECTION: [("boxes_start", "INT32", [-1, 3]), ("boxes_end", "INT32", [-1, 3]),
                          ("boxes_label", "INT32", [-1]), ("boxes_score", "FP32", [-1])],
    InferType.LOCALISATION: [("points_position", "FP32", [-1, 3]), ("points_label", "INT32", [-1]),
                             ("points_score", "FP32", [-1])],
    InferType.PROCESSING: [("image", "FP32", _VOLUME_SHAPE), ("labels", "UINT8", _VOLUME_SHAPE)],
}


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def json_reply(status: int, content: Any) -> Reply:
    """A JSON answer."""
    return Reply(status, json.dumps(content).encode())


def error_reply(status: int, message: str) -> Reply:
    """The V2 error body, `{"error": message}`."""
    return json_reply(status, {"error": message})


@dataclass(frozen=True)
class Route:
    """What a path asks: a server endpoint, or a model endpoint ("metadata", "ready", "infer") and its version."""

    endpoint: str
    name: str = ""
    version: str | None = None


def route(method: str, path: str) -> Route | Reply:
    """The endpoint a request targets, or the 404/405 reply if none."""
    path = path.split("?", 1)[0]
    server = {"/v2": "server", "/v2/": "server", "/v2/health/live": "live", "/v2/health/ready": "ready"}
    if path in server:
        found = Route(server[path])
    elif match := _ROUTE.match(path):
        action = (match["action"] or "/metadata").strip("/")
        found = Route(action, match["name"], match["version"])
    else:
        return error_reply(404, f"no V2 endpoint at {path}: see GET /v2 and /v2/models/<name>")
    wanted = "POST" if found.endpoint == "infer" else "GET"
    if method != wanted:
        return error_reply(405, f"{path} answers {wanted}, not {method}")
    return found


class ModelService:
    """One model version behind the V2 protocol; `lock` makes inference one request at a time."""

    def __init__(self, model: LoadedModel, *, name: str, version: str, max_json_bytes: int = MAX_JSON_BYTES) -> None:
        self.model = model
        self.name = name
        self.version = version
        self.max_json_bytes = max_json_bytes
        self.lock = threading.Lock()

    def check_model(self, request: Route) -> Reply | None:
        """The 404 reply if the route names another model or version, else None."""
        if request.name != self.name:
            return error_reply(404, f"unknown model '{request.name}': this runtime serves '{self.name}'")
        if request.version is not None and request.version != self.version:
            return error_reply(404, f"model '{self.name}' has no version '{request.version}':"
                               f" this runtime serves version '{self.version}'")
        return None

    def server_endpoint(self, endpoint: str) -> Reply:
        """/v2, /v2/health/live and /v2/health/ready: the model is loaded before the server binds."""
        if endpoint == "live":
            return json_reply(200, {"live": True})
        if endpoint == "ready":
            return json_reply(200, {"ready": True})
        return json_reply(200, {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": EXTENSIONS})

    def metadata(self) -> dict[str, Any]:
        """The V2 model metadata, with the manifest's task, modality and labels."""
        manifest = self.model.manifest
        return {
            "name": self.name, "versions": [self.version], "platform": PLATFORM,
            "inputs": [{"name": INPUT, "datatype": "INT16", "shape": _VOLUME_SHAPE}],
            "outputs": [{"name": n, "datatype": d, "shape": s} for n, d, s in _OUTPUTS[manifest.task]],
            "parameters": {"task": manifest.task.value, "modality": manifest.modality,
                           "labels": json.dumps([label.name for label in manifest.labels])},
            "manifest": manifest.to_json(),
        }

    def model_endpoint(self, request: Route) -> Reply:
        """Model metadata or readiness."""
        if missing := self.check_model(request):
            return missing
        if request.endpoint == "ready":
            return json_reply(200, {"name": self.name, "ready": True})
        return json_reply(200, self.metadata())

    def infer(self, body: bytes | bytearray, headers: Mapping[str, str]) -> Reply:
        """Run the model on a V2 infer request; the caller holds `lock` and has checked the route."""
        try:
            return self._infer(body, headers)
        except InputError as e:
            return error_reply(422, f"the model refused the series: {e}")
        except ModelRuntimeError as e:
            if e.status >= 500:
                log.warning("inference failed: %s", e.detail)
            return error_reply(e.status, e.detail)

    def _infer(self, body: bytes | bytearray, headers: Mapping[str, str]) -> Reply:
        start = time.perf_counter()
        header, tensors = parse(body, headers, "inputs", max_json_bytes=self.max_json_bytes)
        volume = volume_from(header, tensors)
        requested, binary = self._requested_outputs(header)
        decoded = time.perf_counter() - start
        outputs = self.model.run(volume)
        timings = {"timing_decode": decoded, **{f"timing_{k}": v for k, v in self.model.timings.items()}}
        try:
            content, reply_headers = encode_response(outputs, model_name=self.name, model_version=self.version,
                                                     id=str(header.get("id", "")), binary=binary,
                                                     parameters=timings, names=requested)
        except ProtocolError as e:  # an output V2 cannot carry is the model's fault, not the request's
            raise ModelFailedError("OutputError", e.detail) from e
        return Reply(200, content, reply_headers)

    def _requested_outputs(self, header: Mapping[str, Any]) -> tuple[list[str] | None, bool | set[str]]:
        """The output names the request asks for (None: all) and which of them to send binary."""
        parameters = header.get("parameters") or {}
        everything_binary = parameters.get("binary_data_output", False) is True
        wanted = header.get("outputs")
        if wanted is None:
            return None, everything_binary
        if not isinstance(wanted, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                   for o in wanted):
            raise ProtocolError("'outputs' must be a list of {\"name\": ..., \"parameters\": {...}} objects")
        known = {n for n, _, _ in _OUTPUTS[self.model.manifest.task]}
        names = [o["name"] for o in wanted]
        if unknown := [n for n in names if re.sub(r"_\d+$", "", n) not in known]:
            raise ProtocolError(f"unknown output(s) {unknown}: this model answers with {sorted(known)}")
        binary = {o["name"] for o in wanted if (o.get("parameters") or {}).get("binary_data") is True}
        return names, True if everything_binary else binary
