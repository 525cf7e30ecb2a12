"""Finding one version of a model by its number, and what its stored manifest records: the registry, sharing and
inference ask the same way."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.ai_models.tables import ModelVersion, VersionStatus
from functions.common.platform.errors import Conflict, ValidationFailed
from model_builder.manifest import Manifest, parse_manifest

# The key of a version's stored manifest listing the DICOM keywords its tasks declare (absent: none declared).
INPUTS = "inputs"


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


def stored_manifest(manifest: Manifest, inputs: Sequence[str]) -> dict[str, Any]:
    """What a version stores as its manifest: the bundle's, with the DICOM keywords its tasks declare (if any)."""
    return {**manifest.to_json(), **({INPUTS: sorted(set(inputs))} if inputs else {})}


def declared_inputs(row: ModelVersion) -> tuple[str, ...]:
    """The DICOM keywords a version's tasks declare: the only attributes the platform reads and sends its model."""
    return tuple((row.manifest or {}).get(INPUTS, ()))


def version_manifest(row: ModelVersion) -> Manifest:
    """A version's manifest, parsed (without what the platform recorded beside the bundle's own fields)."""
    return parse_manifest({k: v for k, v in (row.manifest or {}).items() if k != INPUTS})
