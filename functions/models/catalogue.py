"""Models as the registry shows them: create, list, read, delete, activate; who may do what.

Access comes from the one permission model (`model_access`); a caller who may see a model but not do
an action on it is told why (403 with a code), one who may not see it gets the same 404 as for an
unknown model.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import MODEL_ACTIONS, ModelAction, model_access, model_for, visible_models
from functions.common.accounts.people import person
from functions.common.accounts.tables import User
from functions.common.ai_models.tables import AiModel, ModelUpload, ModelVersion, VersionStatus
from functions.common.ai_models.versions import version_of
from functions.common.platform.config import get_settings
from functions.common.platform.db import utcnow
from functions.common.platform.errors import Forbidden, ValidationFailed
from functions.common.platform.storage import store
from functions.common.security import audit
from functions.common.security.tokens import Principal
from model_builder.labels import InferType
from model_builder.manifest import MODALITY
from model_builder.validation import Problem

TASKS = [t.value for t in InferType]


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def require(db: Session, principal: Principal, model_id: uuid.UUID, action: ModelAction) -> tuple[AiModel, str]:
    """The model and the caller's access if they may do `action`: 404 if they may not see it, 403 if they may
    see it but not do this."""
    model = model_for(db, principal, model_id, ModelAction.USE)
    access = model_access(db, principal, model) or ""
    if action not in MODEL_ACTIONS.get(access, ()):
        if action is ModelAction.EDIT:
            raise Forbidden("Only the model's owner and researchers it is shared with for editing may do this.",
                            code="not_model_editor")
        raise Forbidden("Only the model's owner may do this.", code="not_model_owner")
    return model, access


def visible_versions(db: Session, model: AiModel, access: str) -> list[ModelVersion]:
    """The versions the caller may see: all for editors, ready ones for users, the published one for health
    professionals."""
    query = select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.version.desc())
    if access == "published":
        query = query.where(ModelVersion.published, ModelVersion.status == VersionStatus.READY)
    elif access == "use":
        query = query.where(ModelVersion.status == VersionStatus.READY)
    return list(db.scalars(query))


def version_json(db: Session, row: ModelVersion, model: AiModel) -> dict[str, Any]:
    author = db.get(User, row.created_by) if row.created_by else None
    return {"version": row.version, "status": row.status, "stage": row.stage, "digest": row.digest,
            "size": row.size, "notes": row.notes, "author": person(author) if author else None,
            "created_at": _iso(row.created_at), "finished_at": _iso(row.finished_at),
            "active": model.active_version == row.version, "published": row.published,
            "problems": list(row.problems or [])}


def model_json(db: Session, principal: Principal, model: AiModel, access: str | None = None) -> dict[str, Any]:
    access = access or model_access(db, principal, model) or ""
    published = db.scalar(select(ModelVersion.version).where(ModelVersion.model_id == model.id,
                                                              ModelVersion.published))
    owner = db.get(User, model.owner_id)
    latest = db.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id)
                       .order_by(ModelVersion.version.desc()).limit(1))
    return {"id": str(model.id), "name": model.name, "description": model.description or "",
            "architecture": model.architecture, "task": model.task, "modality": model.modality,
            "owner": person(owner) if owner else None, "access": access,
            "actions": [str(a) for a in MODEL_ACTIONS.get(access, ())],
            "active_version": model.active_version, "published_version": published,
            "latest_version": ({"version": latest.version, "status": latest.status, "stage": latest.stage}
                       if latest is not None and access in ("owner", "edit") else None),
            "labels": list(model.labels or []), "created_at": _iso(model.created_at),
            "updated_at": _iso(model.updated_at)}


def _info(body: dict[str, Any]) -> dict[str, str]:
    """The form's fields, checked: every problem at once."""
    errors: list[dict[str, str]] = []
    limits = {"name": 100, "description": 4000, "architecture": 200}
    info: dict[str, str] = {}
    for field, limit in limits.items():
        value = str(body.get(field, "")).strip()
        if field in ("name", "architecture") and not value:
            errors.append({"field": field, "message": "is required"})
        elif len(value) > limit or any(ord(c) < 32 and c not in "\n\t" for c in value):
            errors.append({"field": field, "message": f"at most {limit} characters, no control characters"})
        info[field] = value
    if body.get("task") not in TASKS:
        errors.append({"field": "task", "message": f"one of {TASKS}"})
    modality = str(body.get("modality", "")).strip().upper()
    if not MODALITY.match(modality):
        errors.append({"field": "modality", "message": "a DICOM modality code such as CT or MR"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return {**info, "task": str(body["task"]), "modality": modality}


def create(db: Session, principal: Principal, body: dict[str, Any], *, client_ip: str | None) -> dict[str, Any]:
    """A new model of the calling researcher, with no version yet."""
    if principal.role != "researcher":
        raise Forbidden("Only researchers add models; health professionals run the models shared with them.",
                        code="researchers_only")
    info = _info(body)
    model = AiModel(id=uuid.uuid4(), owner_id=principal.user_id, labels=[], **info)
    db.add(model)
    db.flush()
    audit.record(db, "model_created", actor_id=principal.user_id, client_ip=client_ip, target=f"model:{model.id}")
    db.refresh(model)
    return model_json(db, principal, model, "owner")


def list_models(db: Session, principal: Principal, *, scope: str) -> dict[str, Any]:
    """`scope`: all I may see, mine, shared with me (or published to me), published (a version for health
    professionals, whoever owns it)."""
    if scope == "published":
        query = visible_models(principal, "all").where(
            select(ModelVersion.id).where(ModelVersion.model_id == AiModel.id, ModelVersion.published).exists())
    else:
        query = visible_models(principal, scope)
    models = db.scalars(query.order_by(AiModel.name, AiModel.id).limit(500)).all()
    return {"items": [model_json(db, principal, m) for m in models]}


def fail_interrupted(db: Session, model: AiModel) -> None:
    """Versions whose smoke run was lost with its process (a restart) are failed, to be published again; a run
    takes at most a start-up and one request (MCC_MODEL_SMOKE_SECONDS), so twice that is a generous deadline."""
    deadline = utcnow() - dt.timedelta(seconds=2 * get_settings().model_smoke_seconds + 120)
    stale = db.scalars(select(ModelVersion).where(ModelVersion.model_id == model.id,
                                                  ModelVersion.status == VersionStatus.VALIDATING,
                                                  ModelVersion.created_at < deadline).with_for_update(skip_locked=True))
    for row in stale:
        if row.bundle_key:
            store().delete(row.bundle_key)
        row.status, row.stage, row.finished_at, row.bundle_key = VersionStatus.FAILED, None, utcnow(), None
        row.problems = [Problem("smoke", None, None, None,
                                "the validation was interrupted (the platform restarted); publish again").to_json()]


def get(db: Session, principal: Principal, model_id: uuid.UUID) -> dict[str, Any]:
    model, access = require(db, principal, model_id, ModelAction.USE)
    fail_interrupted(db, model)
    return {**model_json(db, principal, model, access),
            "versions": [version_json(db, v, model) for v in visible_versions(db, model, access)]}


def apply_manifest(model: AiModel, manifest: dict[str, Any]) -> None:
    """An activated version's manifest becomes the model's information."""
    model.name = manifest.get("name", model.name)[:100]
    model.description = manifest.get("description", model.description)
    model.architecture = manifest.get("architecture", model.architecture)[:200]
    model.task = manifest.get("task", model.task)
    model.modality = manifest.get("modality", model.modality)
    model.labels = manifest.get("labels", [])
    model.updated_at = utcnow()


def activate(db: Session, principal: Principal, model_id: uuid.UUID, *, version: int,
             client_ip: str | None) -> AiModel:
    """Make a ready version the model's service (activate, or roll back to an older one)."""
    model, _ = require(db, principal, model_id, ModelAction.EDIT)
    row = version_of(db, model.id, version, ready_to="be activated")
    model.active_version = row.version
    apply_manifest(model, row.manifest)
    audit.record(db, "model_activated", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"model:{model.id}", details={"version": row.version})
    return model


def bundle_keys(db: Session, model: AiModel) -> list[str]:
    """Every stored object of a model: its bundles and its uploads' chunks."""
    keys = [k for k in db.scalars(select(ModelVersion.bundle_key).where(ModelVersion.model_id == model.id)) if k]
    for upload in db.scalars(select(ModelUpload).where(ModelUpload.model_id == model.id)):
        keys.extend(upload.parts or [])
    return keys
