"""deploy/kustomize.py: the kustomize features knative/ uses, rendered as kustomize does, and everything else refused."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from deploy.kustomize import KustomizeError, apply_json_patch, render

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    a/b: "1"
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: mcc/functions:old
      containers:
        - name: app
          image: mcc/functions
        - name: side
          image: registry.local:5000/other/sidecar:1.2
"""
BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bind
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
  - {kind: ServiceAccount, name: sa}
  - {kind: User, name: someone}
---
apiVersion: v1
kind: Namespace
metadata:
  name: mcc
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return directory


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write(tmp_path, {"base/kustomization.yaml": "resources: [web.yaml, rbac.yaml]\n",
                            "base/web.yaml": DEPLOYMENT, "base/rbac.yaml": BINDING})


def overlay(base: Path, text: str) -> Path:
    return write(base, {"overlay/kustomization.yaml": text}) / "overlay"


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(obj for obj in objects if obj["kind"] == kind)


def test_an_overlay_sets_namespace_images_and_patches(base: Path) -> None:
    objects = render(overlay(base, """\
        namespace: mcc
        resources: [../base]
        images:
          - {name: mcc/functions, newName: localhost:5001/mcc/functions, newTag: dev}
          - {name: registry.local:5000/other/sidecar, digest: "sha256:%s"}
        patches:
          - target: {group: apps, version: v1, kind: Deployment, name: web}
            patch: |-
              - {op: add, path: /metadata/annotations/c~1d, value: "2"}
              - {op: replace, path: /spec/template/spec/containers/0/name, value: main}
              - {op: add, path: /spec/replicas, value: 3}
        """ % ("ab" * 32)))

    web = by_kind(objects, "Deployment")
    assert [o["kind"] for o in objects] == ["Deployment", "RoleBinding", "Namespace"]
    assert web["metadata"] == {"name": "web", "annotations": {"a/b": "1", "c/d": "2"}, "namespace": "mcc"}
    spec = web["spec"]["template"]["spec"]
    assert [c["image"] for c in spec["containers"]] == ["localhost:5001/mcc/functions:dev",
                                                        "registry.local:5000/other/sidecar@sha256:" + "ab" * 32]
    assert spec["initContainers"][0]["image"] == "localhost:5001/mcc/functions:dev"
    assert spec["containers"][0]["name"] == "main" and web["spec"]["replicas"] == 3
    binding = by_kind(objects, "RoleBinding")
    assert binding["metadata"]["namespace"] == "mcc"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sa", "namespace": "mcc"},
                                   {"kind": "User", "name": "someone"}]
    assert "namespace" not in by_kind(objects, "Namespace")["metadata"]  # cluster-scoped


@pytest.mark.parametrize(("text", "where"), [
    ("resources: [../base]\ncommonLabels: {a: b}\n", "commonLabels"),
    ("resources: [../base]\npatchesStrategicMerge: [p.yaml]\n", "patchesStrategicMerge"),
    ("resources: [../base]\npatches:\n  - path: p.yaml\n", "patches[0]"),
    ("resources: [../base]\npatches:\n  - target: {kind: Deployment, name: nope}\n    patch: '[]'\n",
     "patches[0].target"),
    ("resources: [../base]\npatches:\n  - target: {kind: Deployment, name: web, labelSelector: a=b}\n"
     "    patch: '[]'\n", "labelSelector"),
    ("resources: [../base]\nimages:\n  - {name: mcc/functions, digest: latest}\n", "images[0].digest"),
    ("resources: [../base]\nimages:\n  - {name: mcc/functions, newTag: dev, replicas: 2}\n", "images[0].replicas"),
    ("resources: [../base, https://example.org/x.yaml]\n", "resources[1]"),
    ("resources: [../missing]\n", "resources[0]"),
    ("namespace: Not_A_Label\nresources: [../base]\n", "namespace"),
])
def test_anything_else_is_refused_with_the_field_named(base: Path, text: str, where: str) -> None:
    with pytest.raises(KustomizeError) as caught:
        render(overlay(base, text))
    assert where in caught.value.where


def test_a_resource_defined_twice_is_refused(base: Path) -> None:
    with pytest.raises(KustomizeError, match="defined twice"):
        render(overlay(base, "resources: [../base, ../base/web.yaml]\n"))


def test_json_patch_operations_follow_rfc_6902() -> None:
    document = {"a": {"b~c": [1, 2, 3], "d/e": "x"}, "f": None}
    patched = apply_json_patch(document, [
        {"op": "add", "path": "/a/b~0c/-", "value": 4},
        {"op": "add", "path": "/a/b~0c/0", "value": 0},
        {"op": "remove", "path": "/a/b~0c/2"},
        {"op": "copy", "from": "/a/d~1e", "path": "/g"},
        {"op": "move", "from": "/f", "path": "/h"},
        {"op": "test", "path": "/g", "value": "x"},
        {"op": "replace", "path": "/a/d~1e", "value": {"y": 1}},
    ])
    assert patched == {"a": {"b~c": [0, 1, 3, 4], "d/e": {"y": 1}}, "g": "x", "h": None}
    assert document == {"a": {"b~c": [1, 2, 3], "d/e": "x"}, "f": None}  # the input is left as it was


@pytest.mark.parametrize("operation", [
    {"op": "test", "path": "/a", "value": 2},
    {"op": "replace", "path": "/missing", "value": 1},
    {"op": "remove", "path": "/list/5"},
    {"op": "add", "path": "/list/01", "value": 1},
    {"op": "add", "path": "no-slash", "value": 1},
    {"op": "move", "from": "/a", "path": "/a/b"},
    {"op": "merge", "path": "/a", "value": 1},
    {"op": "add", "path": "/a"},
])
def test_a_failing_operation_is_an_error_and_changes_nothing(operation: dict[str, Any]) -> None:
    document = {"a": 1, "list": [1]}
    with pytest.raises(KustomizeError, match=r"patch\[1\]"):
        apply_json_patch(document, [{"op": "add", "path": "/b", "value": 2}, operation])
    assert document == {"a": 1, "list": [1]}
