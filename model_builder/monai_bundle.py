"""MONAI Bundles (the model-zoo layout) as they are: their metadata fills the manifest, a built-in app runs them.

Layout: configs/metadata.json, configs/inference.json, models/model.pt. Nothing here imports MONAI,
torch or nibabel until a bundle is actually run.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .application import Application
from .errors import ManifestError, OutputError
from .labels import InferType
from .manifest import Manifest, parse_manifest
from .outputs import LabelVolume, Output, Scores
from .volume import Volume

ENTRY_POINT = "model_builder.monai_bundle:BundleApplication"
_BACKGROUND = {"background", "bg", "other", "everything else"}
# metadata.json's version keys → the distribution each pins.
_PINNED = {"monai_version": "monai", "pytorch_version": "torch", "numpy_version": "numpy"}
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
# Transforms that write files (SaveImaged, writers): a bundle's own output step, dropped when the runtime runs it.
_WRITES = re.compile(r"^(Save|Write)|Writer$")

log = logging.getLogger(__name__)


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
    """Labels from the output's channel_def, in channel order, without the background channel.

    The zoo format has no place for codes or colours; we read them, when a bundle gives them, from the same
    output beside channel_def, keyed by channel like it: `"label_codes": {"1": {"value": "80891009",
    "scheme": "SCT", "meaning": "Heart"}}` and `"label_colours": {"1": [206, 110, 84]}`. Without them a
    label has a name only and the platform gives it a generic code.
    """
    channels = output.get("channel_def") or {}
    codes = output.get("label_codes") or {}
    colours = output.get("label_colours") or {}
    ordered = sorted(channels.items(), key=lambda item: int(item[0]) if str(item[0]).isdigit() else 0)
    labels = []
    for channel, name in ordered:
        if str(name).strip().lower() in _BACKGROUND:
            continue
        label: dict[str, Any] = {"name": str(name).strip()}
        if isinstance(codes, dict) and str(channel) in codes:
            label["code"] = codes[str(channel)]
        if isinstance(colours, dict) and str(channel) in colours:
            label["colour"] = colours[str(channel)]
        labels.append(label)
    return labels


def _tested_with(metadata: dict[str, Any]) -> str:
    """The versions a zoo bundle names (`monai_version`, ...): what it was tested with, told in the version notes.

    They are not made requirements: zoo bundles pin the versions of their release, and a bundle imported as it is
    runs on the runtime's MONAI and torch when its smoke run passes."""
    pins = {dist: metadata[key] for key, dist in _PINNED.items() if isinstance(metadata.get(key), str)}
    optional = metadata.get("optional_packages_version") or {}
    if isinstance(optional, dict):
        pins.update({str(k): v for k, v in optional.items() if isinstance(v, str)})
    named = [f"{dist} {version}" for dist, version in sorted(pins.items()) if _VERSION.match(version)]
    return f"Tested with {', '.join(named)}." if named else ""


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
        "version_notes": " ".join(filter(None, [f"{version}: {notes}" if version else str(notes),
                                                _tested_with(metadata)]))[:4000],
        "entry_point": ENTRY_POINT,
        "requirements": [],
    }
    try:
        return parse_manifest(manifest)
    except ManifestError as e:
        raise ManifestError([(f"configs/metadata.json → {path}", message) for path, message in e.problems]) from e


def _class_name(item: Any) -> str:
    """The class a config item instantiates (`"_target_": "monai.transforms.SaveImaged"` → SaveImaged)."""
    target = item.get("_target_") if isinstance(item, dict) else None
    return str(target).rsplit(".", 1)[-1] if target else ""


def volume_affine(volume: Volume) -> np.ndarray:
    """The NIfTI (RAS) affine of the volume's array transposed to (x, y, z), i.e. its axes (2, 1, 0)."""
    lps = np.eye(4)
    for column, axis in enumerate((2, 1, 0)):
        lps[:3, column] = volume.direction[axis] * volume.spacing[axis]
    lps[:3, 3] = volume.origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # LPS → RAS: x and y change sign


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """The volume as an uncompressed NIfTI file, the input zoo bundles' `LoadImaged` expects."""
    import nibabel

    array = np.asarray(volume.array.transpose(2, 1, 0), dtype=np.float32)
    nibabel.save(nibabel.Nifti1Image(array, volume_affine(volume)), str(path))
    return Path(path)


class BundleApplication(Application):
    """Runs a MONAI Bundle as its inference.json defines it: network, preprocessing, inferer, postprocessing.

    The input goes in as the bundle's loader expects it: when preprocessing starts with `LoadImage(d)`, the
    volume is written to a NIfTI file (RAS affine from the DICOM geometry) in a private temporary folder under
    $TMPDIR and the bundle's own transforms read it; otherwise the bundle gets the image its loader would
    have produced (a channel-less MetaTensor (x, y, z) with that affine). Transforms that write files
    (`SaveImaged`, writers) are dropped: the runtime wants the array. The prediction is brought back onto the
    input grid by the bundle's `Invertd`, or, if it has none, by inverting its preprocessing here.
    """

    def __init__(self, bundle_dir: str | Path = ".") -> None:
        super().__init__(bundle_dir)
        import torch
        from monai.bundle import ConfigParser
        from monai.transforms import Invertd, LoadImage, LoadImaged

        torch.set_num_threads(1)  # the runtime's sandbox has one CPU
        self.manifest = manifest_from_monai(self.bundle_dir)
        config_path = self.bundle_dir / "configs" / "inference.json"
        weights_path = self.bundle_dir / "models" / "model.pt"
        inference = _read_json(config_path, "configs/inference.json")
        problems = [(f"configs/inference.json → {key}", "is missing: a zoo bundle defines it")
                    for key in ("network_def", "inferer") if key not in inference]
        if not weights_path.is_file():
            problems.append(("models/model.pt", "is missing: save the trained state dict there"))
        if problems:
            raise ManifestError(problems)
        metadata = _read_json(self.bundle_dir / "configs" / "metadata.json", "configs/metadata.json")
        data_format = metadata.get("network_data_format") or {}
        self.image_key = next(iter(data_format.get("inputs") or {}), "image")
        self.pred_key = next(iter(data_format.get("outputs") or {}), "pred")

        parser = ConfigParser(inference)
        parser["bundle_root"] = str(self.bundle_dir)
        for key in ("preprocessing", "postprocessing"):
            items = parser.get(f"{key}#transforms")
            if isinstance(items, list):
                parser[f"{key}#transforms"] = [item for item in items if not _WRITES.search(_class_name(item))]
        self.network = parser.get_parsed_content("network_def")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        self.network.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        self.network.eval()
        self.inferer = parser.get_parsed_content("inferer")
        self.preprocessing = parser.get_parsed_content("preprocessing", default=None)
        self.postprocessing = parser.get_parsed_content("postprocessing", default=None)
        first = getattr(self.preprocessing, "transforms", (self.preprocessing,))[0]
        self.reads_files = isinstance(first, (LoadImage, LoadImaged))
        self.inverts = any(isinstance(t, Invertd) for t in getattr(self.postprocessing, "transforms", ()))
        self.latencies: dict[str, float] = {}  # seconds of the last run's stages, as InferTask records them
        log.info("MONAI bundle %s loaded (network %s, reads files: %s)", self.manifest.name,
                 type(self.network).__name__, self.reads_files)

    def run(self, volume: Volume) -> Output:
        """The bundle's prediction on one series: a label map on the input grid, or scores for a classifier.

        `latencies` then holds the seconds of pre (file, loader, transforms), infer and post (inversion).
        """
        import torch

        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mcc-bundle-") as folder:
            data = self._preprocess(volume, Path(folder))
        image = data[self.image_key]
        prepared = time.perf_counter()
        with torch.no_grad():
            data[self.pred_key] = self.inferer(image[None], self.network)[0]
        inferred = time.perf_counter()
        if self.manifest.task is InferType.CLASSIFICATION:
            probabilities = torch.softmax(data[self.pred_key].flatten().float(), 0).tolist()
            names = [label.name for label in self.manifest.labels]
            output: Output = Scores(dict(zip(names, probabilities[-len(names):], strict=True)))
        else:
            if self.postprocessing is not None:
                data = self.postprocessing(data)
            labels = self._on_input_grid(data, volume)
            output = LabelVolume(labels.astype(np.uint8 if len(self.manifest.labels) < 256 else np.uint16))
        self.latencies = {"pre": prepared - start, "infer": inferred - prepared,
                          "post": time.perf_counter() - inferred}
        log.debug("bundle %s latencies %s", self.manifest.name, self.latencies)
        return output

    def _preprocess(self, volume: Volume, folder: Path) -> dict[str, Any]:
        """The bundle's preprocessing applied to the volume, given as a file or as its loader's output."""
        import torch
        from monai.data import MetaTensor

        if self.reads_files:
            data: dict[str, Any] = {self.image_key: str(write_nifti(volume, folder / "image.nii"))}
        else:
            affine = torch.as_tensor(volume_affine(volume), dtype=torch.float64)
            array = torch.as_tensor(np.asarray(volume.array.transpose(2, 1, 0), dtype=np.float32))
            meta = {"original_affine": affine.numpy(), "spatial_shape": array.shape, "space": "RAS",
                    "original_channel_dim": float("nan"), "filename_or_obj": "volume"}
            data = {self.image_key: MetaTensor(array, affine=affine, meta=meta)}
        if self.preprocessing is None:
            data[self.image_key] = data[self.image_key][None]
            return data
        return dict(self.preprocessing(data))

    def _on_input_grid(self, data: dict[str, Any], volume: Volume) -> np.ndarray:
        """The postprocessed prediction as integer labels (z, y, x) on the input grid, inverted here if need be."""
        from monai.transforms import Invertd, InvertibleTransform

        expected = volume.shape[::-1]
        pred = data[self.pred_key]
        if not self.inverts and isinstance(self.preprocessing, InvertibleTransform):
            # Even a prediction of the input's shape may be flipped or permuted (Orientationd): invert it all.
            inverse = Invertd(self.pred_key, self.preprocessing, orig_keys=self.image_key, nearest_interp=True)
            pred = inverse(data)[self.pred_key]
        array = np.asarray(pred.detach().cpu().numpy() if hasattr(pred, "detach") else pred)
        if tuple(array.shape[1:]) != expected:
            raise OutputError("BundleApplication", f"the prediction's grid {tuple(array.shape[1:])} (x, y, z) is"
                              f" not the input's {expected}: end the bundle's postprocessing with Invertd")
        labels = array.argmax(0) if array.shape[0] > 1 else np.rint(array[0])
        return np.ascontiguousarray(labels.transpose(2, 1, 0))  # (z, y, x) in memory order, as every consumer reads it


__all__ = ["ENTRY_POINT", "BundleApplication", "manifest_from_monai", "volume_affine", "write_nifti"]
