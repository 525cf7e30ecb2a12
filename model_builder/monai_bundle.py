"""MONAI Bundles (the model-zoo layout) as they are: their metadata fills the manifest, a built-in app runs them.

Layout: configs/metadata.json, configs/inference.json, models/model.pt. Nothing here imports MONAI
or torch until a bundle is actually run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .application import Application
from .errors import ManifestError
from .labels import InferType
from .manifest import Manifest, parse_manifest
from .outputs import LabelVolume, Output, Scores
from .volume import Volume

ENTRY_POINT = "model_builder.monai_bundle:BundleApplication"
_BACKGROUND = {"background", "bg", "other", "everything else"}
# metadata.json's version keys → the distribution each pins.
_PINNED = {"monai_version": "monai", "pytorch_version": "torch", "numpy_version": "numpy"}
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")


def _read_json(path: Path, json_path: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ManifestError([(json_path, f"{path.name} is missing: a MONAI Bundle has configs/{path.name}")]) from e
    except (OSError, ValueError) as e:
        raise ManifestError([(json_path, f"{path.name} is not valid JSON: {e}")]) from e
    if not isinstance(data, dict):
        raise ManifestError([(json_path, f"{path.name} must hold a JSON object")])
    return data


def _task(metadata: dict[str, Any], output: dict[str, Any]) -> str:
    """The task type from the first output's format, else from the free-text `task`."""
    fmt = str(output.get("format", "")).lower()
    kind = str(output.get("type", "")).lower()
    if "segment" in fmt:
        return InferType.SEGMENTATION.value
    if "box" in fmt or kind == "object":
        return InferType.DETECTION.value
    if fmt in ("classes", "class", "probabilities") or kind == "probabilities":
        return InferType.CLASSIFICATION.value
    text = str(metadata.get("task", "")).lower()
    for word, infer_type in (("segment", InferType.SEGMENTATION), ("classif", InferType.CLASSIFICATION),
                             ("detect", InferType.DETECTION), ("landmark", InferType.LOCALISATION)):
        if word in text:
            return infer_type.value
    return str(metadata.get("task", ""))  # parse_manifest reports it with the allowed values


def _labels(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Label names from the output's channel_def, in channel order, without the background channel."""
    channels = output.get("channel_def") or {}
    ordered = sorted(channels.items(), key=lambda item: int(item[0]) if str(item[0]).isdigit() else 0)
    return [{"name": str(name).strip()} for _, name in ordered if str(name).strip().lower() not in _BACKGROUND]


def _requirements(metadata: dict[str, Any]) -> list[str]:
    pins = {dist: metadata[key] for key, dist in _PINNED.items() if isinstance(metadata.get(key), str)}
    optional = metadata.get("optional_packages_version") or {}
    if isinstance(optional, dict):
        pins.update({str(k): v for k, v in optional.items() if isinstance(v, str)})
    return [f"{dist}=={version}" for dist, version in sorted(pins.items()) if _VERSION.match(version)]


def _architecture(bundle: Path) -> str:
    """The network class named by configs/inference.json's `network_def`, if there is one."""
    try:
        inference = json.loads((bundle / "configs" / "inference.json").read_text())
        target = inference["network_def"]["_target_"]
    except (OSError, ValueError, KeyError, TypeError):
        return "MONAI bundle"
    return str(target).rsplit(".", 1)[-1] or "MONAI bundle"


def manifest_from_monai(bundle_dir: str | Path, *, modality: str | None = None) -> Manifest:
    """The manifest of a MONAI Bundle, from configs/metadata.json (and the network from inference.json)."""
    bundle = Path(bundle_dir)
    metadata = _read_json(bundle / "configs" / "metadata.json", "configs/metadata.json")
    data_format = metadata.get("network_data_format") or {}
    inputs = list((data_format.get("inputs") or {}).values())
    outputs = list((data_format.get("outputs") or {}).values())
    first_input = inputs[0] if inputs and isinstance(inputs[0], dict) else {}
    first_output = outputs[0] if outputs and isinstance(outputs[0], dict) else {}
    version = str(metadata.get("version", ""))
    changelog = metadata.get("changelog") or {}
    notes = changelog.get(version, "") if isinstance(changelog, dict) else ""
    description = str(metadata.get("description", ""))
    if metadata.get("intended_use"):
        description = f"{description}\n\nIntended use: {metadata['intended_use']}".strip()
    manifest = {
        "name": str(metadata.get("name", bundle.name)),
        "description": description[:4000],
        "architecture": _architecture(bundle),
        "task": _task(metadata, first_output),
        "modality": modality or str(first_input.get("modality") or metadata.get("modality") or ""),
        "labels": _labels(first_output),
        "version_notes": (f"{version}: {notes}" if version else str(notes))[:4000],
        "entry_point": ENTRY_POINT,
        "requirements": _requirements(metadata),
    }
    try:
        return parse_manifest(manifest)
    except ManifestError as e:
        raise ManifestError([(f"configs/metadata.json → {path}", message) for path, message in e.problems]) from e


class BundleApplication(Application):
    """Runs a MONAI Bundle with its own inference.json: network, preprocessing and inferer as the bundle defines."""

    def __init__(self, bundle_dir: str | Path = ".") -> None:
        super().__init__(bundle_dir)
        import torch  # noqa: F401  (imported here: the SDK itself never needs torch)
        from monai.bundle import ConfigParser

        self.manifest = manifest_from_monai(self.bundle_dir)
        parser = ConfigParser()
        parser.read_config(str(self.bundle_dir / "configs" / "inference.json"))
        parser["bundle_root"] = str(self.bundle_dir)
        self.network = parser.get_parsed_content("network_def")
        state = torch.load(self.bundle_dir / "models" / "model.pt", map_location="cpu", weights_only=True)
        self.network.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        self.network.eval()
        self.inferer = parser.get_parsed_content("inferer")
        self.preprocessing = parser.get_parsed_content("preprocessing", default=None)

    def run(self, volume: Volume) -> Output:
        import torch

        # MONAI's channel-first (C, x, y, z) against the SDK's (z, y, x).
        image = torch.as_tensor(volume.array.transpose(2, 1, 0)[None].astype("float32"))
        if self.preprocessing is not None:
            image = self.preprocessing({"image": image})["image"]
        with torch.no_grad():
            logits = self.inferer(image[None], self.network)[0]
        if self.manifest.task is InferType.CLASSIFICATION:
            probabilities = torch.softmax(logits.flatten(), 0).tolist()
            return Scores({label.name: p for label, p in zip(self.manifest.labels, probabilities[-len(
                self.manifest.labels):], strict=True)})
        labels = logits.argmax(0).numpy().transpose(2, 1, 0)
        return LabelVolume(labels.astype("uint8" if len(self.manifest.labels) < 256 else "uint16"))


__all__ = ["ENTRY_POINT", "BundleApplication", "manifest_from_monai"]
