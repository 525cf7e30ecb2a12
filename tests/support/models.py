"""Driving the model registry through its HTTP API in tests: templates, resumable uploads, publishing, waiting
for a version's validation to end."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from model_builder.labels import InferType

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "model_builder" / "templates"


def template_files(template: str = "processing_classical", **manifest: Any) -> dict[str, str]:
    """A template's text files, with manifest fields replaced."""
    files = {p.name: p.read_text() for p in sorted((TEMPLATES / template).iterdir()) if p.suffix in (".py", ".json")}
    data = json.loads(files["manifest.json"])
    data.update(manifest)
    files["manifest.json"] = json.dumps(data, indent=2)
    return files


def create_model(client, name: str = "CT body mask", task: str = InferType.PROCESSING.value,
                 modality: str = "CT") -> dict:
    r = client.post("/api/models", json={"name": name, "description": "A test model.",
                                         "architecture": "Threshold", "task": task, "modality": modality})
    assert r.status_code == 201, r.text
    return r.json()


def upload(client, model_id: str, data: bytes, *, name: str = "weights.bin", chunk: int | None = None) -> dict:
    """A complete upload, sent in chunks of the server's size (or `chunk`)."""
    r = client.post(f"/api/models/{model_id}/uploads",
                    json={"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    assert r.status_code == 201, r.text
    item = r.json()
    step = chunk or item["chunk_size"]
    for start in range(0, len(data), step):
        part = data[start:start + step]
        r = client.put(f"/api/models/{model_id}/uploads/{item['id']}", data=part, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"})
        assert r.status_code == 200, r.text
        item = r.json()
    assert item["complete"], item
    return item


def publish(client, model_id: str, files: dict[str, str], weights: dict | None = None, notes: str = ""):
    return client.post(f"/api/models/{model_id}/versions", json={"files": files, "weights": weights or {},
                                                                 "notes": notes})


def wait_version(client, model_id: str, version: int, *, timeout: float = 240.0) -> dict:
    """The version once its validation ended (ready or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/models/{model_id}/versions/{version}")
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] != "validating":
            return body
        assert time.monotonic() < deadline, f"version {version} still validating after {timeout} s: {body}"
        time.sleep(0.2)
