"""Finding one version of a model by its number: the registry, sharing and (later) inference ask the same way."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.ai_models.tables import ModelVersion, VersionStatus
from functions.common.platform.errors import Conflict, ValidationFailed


def version_of(db: Session, model_id: uuid.UUID, number: object, *, field: str = "version",
               ready_to: str | None = None) -> ModelVersion:
    """The model's version `number`, or 422 unknown_version naming `field`; with `ready_to` ("be activated"), a
    version that is not ready is 409 version_not_ready."""
    row = db.scalar(select(ModelVersion).where(ModelVersion.model_id == model_id, ModelVersion.version == number)) \
        if isinstance(number, int) and not isinstance(number, bool) else None
    if row is None:
        raise ValidationFailed.field(field, f"this model has no version {number!r}", code="unknown_version")
    if ready_to and row.status != VersionStatus.READY:
        raise Conflict(f"Version {number} is {row.status}; only a ready version can {ready_to}.",
                       code="version_not_ready")
    return row
