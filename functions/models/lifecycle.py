"""What happens to a model after it is added: its templates, version details, activation and rollback (the
service follows), its service's state, deletion (services stopped, bundles removed)."""

from __future__ import annotations

import functools
import json
import shutil
import uuid
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import ModelAction
from functions.common.ai_models import services
from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
from functions.common.platform.errors import Forbidden, NotFound
from functions.common.platform.storage import store
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.models import catalogue
from model_builder.deploy import DeployError

TEMPLATES = {"segmentation_monai": "Segmentation (MONAI 3D U-Net)", "classification": "Classification",
             "processing_classical": "Classical processing (numpy/scipy)"}


@functools.cache
def _templates() -> list[dict[str, Any]]:
    root = resources.files("model_builder") / "templates"
    items = []
    for name, title in TEMPLATES.items():
        folder = root / name
        files = {f.name: f.read_text(encoding="utf-8") for f in folder.iterdir()
                 if f.is_file() and f.name.endswith((".py", ".json", ".md", ".txt"))}
        task = json.loads(files["manifest.json"])["task"]
        items.append({"id": name, "title": title, "task": task, "files": dict(sorted(files.items()))})
    return items


def templates(principal: Principal) -> dict[str, Any]:
    if principal.role != "researcher":
        raise Forbidden("Only researchers add models.", code="researchers_only")
    return {"items": _templates()}


def _row(db: Session, model: AiModel, version: int, access: str) -> ModelVersion:
    row = next((v for v in catalogue.visible_versions(db, model, access) if v.version == version), None)
    if row is None:
        raise NotFound("No such version of this model.")
    return row


def version(db: Session, principal: Principal, model_id: uuid.UUID, number: int) -> dict[str, Any]:
    model, access = catalogue.require(db, principal, model_id, ModelAction.USE)
    row = _row(db, model, number, access)
    return {**catalogue.version_json(db, row, model), "manifest": row.manifest, "files": row.files}


def activate(db: Session, principal: Principal, model_id: uuid.UUID, *, version: int,
             client_ip: str | None) -> dict[str, Any]:
    model = catalogue.activate(db, principal, model_id, version=version, client_ip=client_ip)
    db.flush()
    try:
        services.sync(db, model)
    except DeployError:
        pass  # recorded; the service follows when the host is back (GET /service says so)
    return catalogue.model_json(db, principal, model)


def service(db: Session, principal: Principal, model_id: uuid.UUID) -> dict[str, Any]:
    model, _ = catalogue.require(db, principal, model_id, ModelAction.USE)
    return services.status(db, model)


def release_bundle_dirs(db: Session, digests: set[str]) -> None:
    """Remove unpacked bundles no remaining version uses."""
    for digest in digests:
        used = db.scalar(select(ModelVersion.id).where(ModelVersion.digest == digest,
                                                       ModelVersion.status != VersionStatus.FAILED).limit(1))
        if used is None:
            shutil.rmtree(services.bundle_dir(digest), ignore_errors=True)


def delete(db: Session, principal: Principal, model_id: uuid.UUID, *, client_ip: str | None) -> None:
    """Stop the model's services, remove its bundles and uploads; shares and versions go with the row."""
    model, _ = catalogue.require(db, principal, model_id, ModelAction.PUBLISH)
    services.stop_all(model.id)
    keys = catalogue.bundle_keys(db, model)
    digests = {d for d in db.scalars(select(ModelVersion.digest).where(ModelVersion.model_id == model.id)) if d}
    db.delete(model)
    db.flush()
    objects = store()
    for key in keys:
        objects.delete(key)
    release_bundle_dirs(db, digests)
    audit.record(db, "model_deleted", actor_id=principal.user_id, client_ip=client_ip, target=f"model:{model_id}")
