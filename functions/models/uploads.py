"""Resumable uploads of weight files and bundle archives: chunks in order, each stored as one object.

A client that loses its connection asks how much arrived (`received`) and goes on from there; the last
chunk completes the upload and fixes its SHA-256. Uploads are private to their creator and model and
expire unused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import ModelAction
from functions.common.ai_models.tables import ModelUpload
from functions.common.platform.config import get_settings
from functions.common.platform.db import utcnow
from functions.common.platform.errors import ApiError, Conflict, NotFound, PayloadTooLarge, ValidationFailed
from functions.common.platform.storage import store
from functions.common.security.tokens import Principal
from functions.models.catalogue import require

LIFETIME = dt.timedelta(hours=24)
RANGE = re.compile(r"^bytes (\d{1,15})-(\d{1,15})/(\d{1,15})$")
NAME = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9._ -]{0,199}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _json(upload: ModelUpload) -> dict[str, Any]:
    return {"id": str(upload.id), "name": upload.name, "size": upload.size, "received": upload.received,
            "complete": upload.sha256 is not None, "sha256": upload.sha256,
            "chunk_size": get_settings().model_chunk_bytes, "expires_at": upload.expires_at.isoformat()}


def _discard(db: Session, upload: ModelUpload) -> None:
    objects = store()
    for key in upload.parts or []:
        objects.delete(key)
    db.delete(upload)


def purge_expired(db: Session, *, limit: int = 20) -> int:
    """Remove uploads nobody finished or used in time (a few per call: it runs beside requests)."""
    rows = db.scalars(select(ModelUpload).where(ModelUpload.expires_at < utcnow())
                      .limit(limit).with_for_update(skip_locked=True)).all()
    for row in rows:
        _discard(db, row)
    return len(rows)


def create(db: Session, principal: Principal, model_id: uuid.UUID, body: dict[str, Any]) -> dict[str, Any]:
    model, _ = require(db, principal, model_id, ModelAction.EDIT)
    name, size, digest = str(body.get("name", "")), body.get("size"), body.get("sha256")
    errors = []
    if not NAME.match(name):
        errors.append({"field": "name", "message": "1-200 characters: letters, digits, space, '.', '_' or '-'"})
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        errors.append({"field": "size", "message": "the file's size in bytes, at least 1"})
    if digest is not None and not (isinstance(digest, str) and SHA256.match(digest)):
        errors.append({"field": "sha256", "message": "64 lowercase hexadecimal digits"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    limit = get_settings().model_max_upload_bytes
    if size > limit:
        raise PayloadTooLarge(f"The file is {size} bytes; uploads are at most {limit} bytes.")
    purge_expired(db)
    upload = ModelUpload(id=uuid.uuid4(), model_id=model.id, user_id=principal.user_id, name=name, size=size,
                         received=0, parts=[], expected_sha256=digest, expires_at=utcnow() + LIFETIME)
    db.add(upload)
    db.flush()
    return _json(upload)


def _mine(db: Session, principal: Principal, model_id: uuid.UUID, upload_id: uuid.UUID, *,
          lock: bool = False) -> ModelUpload:
    require(db, principal, model_id, ModelAction.EDIT)
    query = select(ModelUpload).where(ModelUpload.id == upload_id, ModelUpload.model_id == model_id,
                                      ModelUpload.user_id == principal.user_id, ModelUpload.expires_at > utcnow())
    upload = db.scalar(query.with_for_update() if lock else query)
    if upload is None:
        raise NotFound("No such upload (it may have expired: start it again).")
    return upload


def get(db: Session, principal: Principal, model_id: uuid.UUID, upload_id: uuid.UUID) -> dict[str, Any]:
    return _json(_mine(db, principal, model_id, upload_id))


def delete(db: Session, principal: Principal, model_id: uuid.UUID, upload_id: uuid.UUID) -> None:
    _discard(db, _mine(db, principal, model_id, upload_id, lock=True))


def put_chunk(db: Session, principal: Principal, model_id: uuid.UUID, upload_id: uuid.UUID, *,
              content_range: str | None, chunk: bytes) -> dict[str, Any]:
    """Append one chunk; the last one completes the upload."""
    upload = _mine(db, principal, model_id, upload_id, lock=True)
    match = RANGE.match(content_range or "")
    if not match:
        raise ValidationFailed("Send each chunk with a Content-Range header: bytes <start>-<end>/<total>.",
                               code="bad_range")
    start, end, total = (int(g) for g in match.groups())
    if total != upload.size or end < start or end >= total or end - start + 1 != len(chunk):
        raise ValidationFailed(f"Content-Range {content_range!r} does not fit a chunk of {len(chunk)} bytes of a"
                               f" {upload.size}-byte upload.", code="bad_range")
    if len(chunk) > get_settings().model_chunk_bytes:
        raise PayloadTooLarge(f"Chunks are at most {get_settings().model_chunk_bytes} bytes.")
    if upload.sha256 is not None or start != upload.received:
        raise Conflict(f"This upload has {upload.received} bytes; send the chunk that starts there.",
                       code="upload_offset")
    key = f"uploads/{upload.id}/{start:015d}"
    store().put_at(key, chunk)
    upload.parts = [*upload.parts, key]
    upload.received = end + 1
    if upload.received == upload.size:
        _complete(db, upload)
    return _json(upload)


def _complete(db: Session, upload: ModelUpload) -> None:
    digest = hashlib.sha256()
    objects = store()
    for key in upload.parts:
        digest.update(objects.get(key))
    if upload.expected_sha256 and digest.hexdigest() != upload.expected_sha256:
        _discard(db, upload)
        db.commit()
        raise ApiError("The file that arrived does not have the SHA-256 you gave; upload it again.",
                       code="checksum_mismatch", status=422)
    upload.sha256 = digest.hexdigest()


def ready_upload(db: Session, principal: Principal, model_id: uuid.UUID, upload_id: Any, field: str) -> ModelUpload:
    """A complete upload of this caller for this model, to join a version."""
    try:
        upload = _mine(db, principal, model_id, uuid.UUID(str(upload_id)))
    except (ValueError, NotFound) as e:
        raise ValidationFailed.field(field, "no such upload (expired, or not yours)", code="unknown_upload") from e
    if upload.sha256 is None:
        raise Conflict(f"{field}: the upload has {upload.received} of {upload.size} bytes; finish it first.",
                       code="upload_incomplete")
    return upload


def materialise(upload: ModelUpload, destination: Path) -> Path:
    """Join an upload's chunks into one file."""
    objects = store()
    with destination.open("wb") as out:
        for key in upload.parts:
            out.write(objects.get(key))
    return destination


def consume(db: Session, upload: ModelUpload) -> None:
    """An upload that became part of a version is gone."""
    _discard(db, upload)


