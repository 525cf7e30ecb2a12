"""A model version's image made in the registry, on top of the runtime base that is already there.

Whoever publishes a version on Knative (the knative deployer, inside the `models` function's pod) holds the bundle but
not the runtime's layers (torch alone is 780 MB): it reads the base's manifest and config from the registry, adds the
one bundle layer (built here exactly as `recipes.bundle_layer` builds it, so the digest is the same as a full local
build's), links the base's layers into the version's repository (a cross-repository mount, no bytes moved) and
uploads only the bundle layer, the config and the manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from . import recipes
from .errors import BadImageName, RegistryError
from .oci import MEDIA_CONFIG, MEDIA_MANIFEST, Image, Layer
from .registry import Pushed, RegistryClient


def split_reference(reference: str) -> tuple[str, str, str]:
    """`registry/name:tag` → (registry, name, tag); the registry part is required (host with a dot or a port)."""
    registry, _, rest = reference.partition("/")
    if not rest or not ("." in registry or ":" in registry or registry == "localhost"):
        raise BadImageName("image", reference, "registry/name:tag, e.g. 127.0.0.1:5000/mcc/models:<digest>")
    name, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return registry, name, tag


def exists(reference: str) -> bool:
    """Whether the registry holds `reference` (HEAD on its manifest)."""
    registry, name, tag = split_reference(reference)
    return RegistryClient(registry).has_manifest(name, tag)


def publish_version(bundle: Path, *, base: str, target: str, work: Path, version: str = "1") -> Pushed:
    """Push `target` = the image `base` + one layer holding `bundle` at /opt/mcc/bundle (same registry)."""
    registry, base_name, base_tag = split_reference(base)
    target_registry, name, tag = split_reference(target)
    if target_registry != registry:
        raise BadImageName("image", target, f"a model version's image must be in the runtime base's registry {registry}")
    client = RegistryClient(registry)
    base_manifest, base_digest = client.manifest(base_name, base_tag)
    config = json.loads(client.blob(base_name, base_manifest["config"]["digest"]))
    ctx = recipes.Context.at(work)
    store = ctx.store
    bundle_layer = recipes.bundle_layer(ctx, bundle)
    config["rootfs"]["diff_ids"] = [*config["rootfs"]["diff_ids"], bundle_layer.diff_id]
    config["history"] = [*config.get("history", []),
                         {"created": "1970-01-01T00:00:00Z", "created_by": "mcc images: bundle"}]
    labels = config.setdefault("config", {}).setdefault("Labels", {}) or {}
    labels.update({"org.opencontainers.image.base.name": base, "org.opencontainers.image.base.digest": base_digest,
                   "org.opencontainers.image.version": version})
    config["config"]["Labels"] = labels
    config_blob, _ = store.put_json(config, MEDIA_CONFIG)
    base_layers = [Layer(digest=d["digest"], size=d["size"], media_type=d["mediaType"])
                   for d in base_manifest["layers"]]
    layers = (*base_layers, bundle_layer)
    manifest_doc = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config_blob.descriptor(),
                    "layers": [layer.descriptor() for layer in layers],
                    "annotations": {k: v for k, v in labels.items() if k.startswith("org.opencontainers.image.")}}
    manifest_blob, data = store.put_json(manifest_doc, MEDIA_MANIFEST)
    client.held_by(base_name, [layer.digest for layer in base_layers])
    mounted = 0
    for layer in base_layers:  # linked, never uploaded: this process does not have them
        if client.has_blob(name, layer.digest):
            continue
        if not client.mount_blob(name, layer.digest):
            raise RegistryError(registry, f"declined to link {layer.digest[:19]} from {base_name} into {name}; "
                                          "push the version with `python -m deploy.images build --bundle` instead")
        mounted += 1
    pushed = client.push(Image(name, tag, layers, config_blob, manifest_blob, data), store)
    return dataclasses.replace(pushed, mounted=mounted, skipped=pushed.skipped - mounted)
