"""Render a kustomization without the kustomize binary: exactly the features knative/ uses, nothing more.

Supported fields of `kustomization.yaml`: `resources` (YAML files, or directories holding a kustomization),
`namespace`, `images` (`name` with `newName`, `newTag` and/or `digest`) and `patches` whose entries are a `target`
(`kind`, `name`, optional `group`, `version`, `namespace`) and an inline JSON 6902 `patch` (add, remove, replace,
move, copy, test). Any other field is refused with `KustomizeError` naming it, so an overlay never silently renders
differently from `kubectl kustomize`. Order as kustomize's: resources, patches, namespace, images.

    python -m deploy.kustomize knative/overlays/kind      # prints the rendered YAML stream
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION = "kustomization.yaml"
FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
IMAGE_FIELDS = {"name", "newName", "newTag", "digest"}
TARGET_FIELDS = {"group", "version", "kind", "name", "namespace"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
                  "StorageClass", "RuntimeClass", "PersistentVolume", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration"}
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
TAG = re.compile(r"[\w][\w.-]{0,127}")


class KustomizeError(ValueError):
    """A kustomization this renderer does not render; `where` names the file and field at fault."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}")


def render(directory: Path | str) -> list[dict[str, Any]]:
    """The objects the kustomization in `directory` produces, in resource order."""
    return _render(Path(directory).resolve(), ())


def _render(directory: Path, seen: tuple[Path, ...]) -> list[dict[str, Any]]:
    if directory in seen:
        raise KustomizeError(str(directory), "the kustomizations include each other in a cycle")
    path = directory / KUSTOMIZATION
    if not path.is_file():
        raise KustomizeError(str(directory), f"has no {KUSTOMIZATION}")
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec, dict):
        raise KustomizeError(str(path), "must be a YAML mapping")
    unknown = sorted(set(spec) - FIELDS)
    if unknown:
        raise KustomizeError(f"{path}: {unknown[0]}", f"is not supported here; use only {sorted(FIELDS)}")
    objects = _resources(directory, spec.get("resources") or [], (*seen, directory), path)
    for index, patch in enumerate(spec.get("patches") or []):
        _patch(objects, patch, f"{path}: patches[{index}]")
    if "namespace" in spec:
        _namespace(objects, spec["namespace"], f"{path}: namespace")
    for index, image in enumerate(spec.get("images") or []):
        _image(objects, image, f"{path}: images[{index}]")
    _check_unique(objects, str(path))
    return objects


def _resources(directory: Path, entries: list[Any], seen: tuple[Path, ...], path: Path) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        where = f"{path}: resources[{index}]"
        if not isinstance(entry, str) or "://" in entry:
            raise KustomizeError(where, f"{entry!r} must be a relative path (remote resources are not supported)")
        target = (directory / entry).resolve()
        if target.is_dir():
            objects += _render(target, seen)
        elif target.is_file():
            for document in yaml.safe_load_all(target.read_text()):
                if document is None:
                    continue
                if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= set(document):
                    raise KustomizeError(f"{where} ({entry})", "every document must be an object with apiVersion, "
                                                               "kind and metadata")
                objects.append(document)
        else:
            raise KustomizeError(where, f"{entry} does not exist")
    return objects


def _check_unique(objects: list[dict[str, Any]], where: str) -> None:
    seen: set[tuple[str, str, str | None]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("name"), obj["metadata"].get("namespace"))
        if key in seen:
            raise KustomizeError(where, f"{key[0]} {key[1]!r} is defined twice")
        seen.add(key)


def _namespace(objects: list[dict[str, Any]], namespace: Any, where: str) -> None:
    """Set the namespace of every namespaced object, and of the ServiceAccounts bindings name (as kustomize)."""
    if not isinstance(namespace, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace):
        raise KustomizeError(where, f"{namespace!r} is not a namespace name (a DNS label)")
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace


def _image(objects: list[dict[str, Any]], image: Any, where: str) -> None:
    """Replace the name, tag or digest of every container image named `image['name']`."""
    if not isinstance(image, dict) or "name" not in image:
        raise KustomizeError(where, "must be a mapping with at least `name`")
    unknown = sorted(set(image) - IMAGE_FIELDS)
    if unknown:
        raise KustomizeError(f"{where}.{unknown[0]}", f"is not supported; use {sorted(IMAGE_FIELDS)}")
    if "newTag" in image and not TAG.fullmatch(str(image["newTag"])):
        raise KustomizeError(f"{where}.newTag", f"{image['newTag']!r} is not an image tag")
    if "digest" in image and not DIGEST.fullmatch(str(image["digest"])):
        raise KustomizeError(f"{where}.digest", f"{image['digest']!r} must be sha256: and 64 hex digits")
    for container in _containers(objects):
        name, tag, digest = _split_image(str(container.get("image", "")))
        if name != image["name"]:
            continue
        name = image.get("newName", name)
        if "digest" in image:
            tag, digest = None, image["digest"]
        elif "newTag" in image:
            tag, digest = str(image["newTag"]), None
        container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _split_image(reference: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is not a tag."""
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


def _containers(value: Any) -> list[dict[str, Any]]:
    """Every container and init container anywhere in the objects (Deployments, Knative Services, …)."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("containers", "initContainers") and isinstance(item, list):
                found += [c for c in item if isinstance(c, dict)]
            else:
                found += _containers(item)
    elif isinstance(value, list):
        for item in value:
            found += _containers(item)
    return found


def _patch(objects: list[dict[str, Any]], entry: Any, where: str) -> None:
    if not isinstance(entry, dict) or set(entry) != {"target", "patch"}:
        raise KustomizeError(where, "must have exactly `target` and an inline JSON 6902 `patch` (no `path`, no "
                                    "strategic merge)")
    target = entry["target"]
    if not isinstance(target, dict) or "kind" not in target or "name" not in target:
        raise KustomizeError(f"{where}.target", "must name at least `kind` and `name`")
    unknown = sorted(set(target) - TARGET_FIELDS)
    if unknown:
        raise KustomizeError(f"{where}.target.{unknown[0]}", f"is not supported; use {sorted(TARGET_FIELDS)}")
    operations = yaml.safe_load(entry["patch"]) if isinstance(entry["patch"], str) else None
    if not isinstance(operations, list):
        raise KustomizeError(f"{where}.patch", "must be a YAML or JSON list of JSON 6902 operations")
    matched = [obj for obj in objects if _matches(obj, target)]
    if not matched:
        raise KustomizeError(f"{where}.target", f"matches no resource ({target})")
    for obj in matched:
        patched = apply_json_patch(obj, operations, where=f"{where}.patch")
        obj.clear()
        obj.update(patched)


def _matches(obj: dict[str, Any], target: dict[str, Any]) -> bool:
    group, _, version = obj["apiVersion"].rpartition("/")
    return (obj["kind"] == target["kind"] and obj["metadata"].get("name") == target["name"]
            and target.get("group", group) == group and target.get("version", version) == version
            and target.get("namespace", obj["metadata"].get("namespace")) == obj["metadata"].get("namespace"))


# JSON Patch (RFC 6902) and JSON Pointer (RFC 6901)

def _pointer(path: Any, where: str) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise KustomizeError(where, f"{path!r} is not a JSON pointer (it must start with /)")
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]] if path else []


def _index(container: list[Any], token: str, where: str, *, adding: bool = False) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise KustomizeError(where, f"{token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise KustomizeError(where, f"index {index} is out of range (the array has {len(container)} items)")
    return index


def _parent(document: Any, tokens: list[str], where: str) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, where)]
        else:
            raise KustomizeError(where, f"the path does not exist (no {token!r})")
    return node


def _get(document: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return document
    parent = _parent(document, tokens, where)
    if isinstance(parent, list):
        return parent[_index(parent, tokens[-1], where)]
    if not isinstance(parent, dict) or tokens[-1] not in parent:
        raise KustomizeError(where, f"the path does not exist (no {tokens[-1]!r})")
    return parent[tokens[-1]]


def _remove(document: Any, tokens: list[str], where: str) -> Any:
    value = _get(document, tokens, where)
    parent = _parent(document, tokens, where)
    if isinstance(parent, list):
        del parent[_index(parent, tokens[-1], where)]
    else:
        del parent[tokens[-1]]
    return value


def _add(document: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return copy.deepcopy(value)
    parent = _parent(document, tokens, where)
    if isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], where, adding=True), copy.deepcopy(value))
    elif isinstance(parent, dict):
        parent[tokens[-1]] = copy.deepcopy(value)
    else:
        raise KustomizeError(where, "the parent of the path is neither an object nor an array")
    return document


def apply_json_patch(document: Any, operations: list[Any], *, where: str = "patch") -> Any:
    """A copy of `document` with the RFC 6902 `operations` applied in order; any failure changes nothing."""
    result = copy.deepcopy(document)
    for number, op in enumerate(operations):
        at = f"{where}[{number}]"
        if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
            raise KustomizeError(at, "must be an object whose `op` is add, remove, replace, move, copy or test")
        tokens = _pointer(op.get("path"), f"{at}.path")
        kind = op["op"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise KustomizeError(at, f"`{kind}` needs a `value`")
        if kind == "add":
            result = _add(result, tokens, op["value"], at)
        elif kind == "remove":
            _remove(result, tokens, at)
        elif kind == "replace":
            _get(result, tokens, at)  # must exist
            if tokens:
                _remove(result, tokens, at)
            result = _add(result, tokens, op["value"], at)
        elif kind == "test":
            if _get(result, tokens, at) != op["value"]:
                raise KustomizeError(at, f"test failed: {op['path']} is not {op['value']!r}")
        else:
            source = _pointer(op.get("from"), f"{at}.from")
            value = copy.deepcopy(_get(result, source, at))
            if kind == "move":
                if tokens[:len(source)] == source and tokens != source:
                    raise KustomizeError(at, "cannot move a value into one of its own children")
                _remove(result, source, at)
            result = _add(result, tokens, value, at)
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the rendered overlay as a YAML stream (what `kubectl kustomize DIR` prints)."""
    parser = argparse.ArgumentParser(prog="python -m deploy.kustomize", description=main.__doc__)
    parser.add_argument("directory", type=Path, help="a directory holding kustomization.yaml")
    args = parser.parse_args(argv)
    try:
        objects = render(args.directory)
    except KustomizeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
