"""Publishing a version: the bundle is assembled (or an archive taken as it is), checked before anything is
stored — archive safety, manifest, static checks, every problem at once — then stored as an immutable
object addressed by its SHA-256 and handed to the smoke run (`smoke.py`)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from functions.common.access.policy import ModelAction
from functions.common.ai_models.services import bundle_dir
from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
from functions.common.ai_models.versions import stored_manifest, version_of
from functions.common.platform.errors import ApiError, Conflict, ValidationFailed
from functions.common.platform.storage import store
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.models import uploads
from functions.models.catalogue import require, version_json
from model_builder.validation import Checked, Problem, validate_archive, validate_files
from model_builder.validation import ValidationFailed as BundleInvalid

MAX_FILES = 200
MAX_TEXT = 1024 * 1024
TEXT_SUFFIXES = {".py", ".json", ".md", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".csv"}


class InvalidBundle(ApiError):
    """The bundle failed its checks before it was stored: every problem, for the editor to mark."""

    status, code, title = 422, "invalid_bundle", "The bundle has problems"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"The bundle has {len(problems)} problem(s); it was not stored.")
        self.problems = problems

    def to_problem(self) -> dict[str, Any]:
        return {**super().to_problem(), "problems": [p.to_json() for p in self.problems]}


@contextlib.contextmanager
def _workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mcc-publish-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _text_files(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ValidationFailed.field("files", "an object of {path: text}, with manifest.json among them")
    if len(value) > MAX_FILES:
        raise ValidationFailed.field("files", f"at most {MAX_FILES} files")
    bad = [p for p, t in value.items() if not isinstance(t, str) or len(t.encode()) > MAX_TEXT]
    if bad:
        raise ValidationFailed.field("files", f"each file is text of at most {MAX_TEXT} bytes: {bad[:5]}")
    return value


def _previous_weights(db: Session, model: AiModel, version: Any, paths: list[str], work: Path) -> dict[str, Path]:
    """Weight files reused from an earlier version's bundle, unpacked into the workspace."""
    row = version_of(db, model.id, version, field="weights")
    if row.bundle_key is None:
        raise ValidationFailed.field("weights", f"version {version!r} has no stored bundle to reuse weights from",
                                     code="unknown_version")
    archive = work / f"v{row.version}.zip"
    store().download(row.bundle_key, archive)
    found: dict[str, Path] = {}
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        for path in paths:
            if path not in names:
                raise ValidationFailed.field(f"weights.{path}", f"version {row.version} has no file {path}")
            target = work / "reused" / uuid.uuid4().hex
            target.parent.mkdir(exist_ok=True)
            with zf.open(path) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            found[path] = target
    return found


def _gather(db: Session, principal: Principal, model: AiModel, body: dict[str, Any],
            work: Path) -> tuple[Checked, list]:
    """The bundle of a request, checked before anything runs, and the uploads it consumes."""
    if "archive" in body:
        upload = uploads.ready_upload(db, principal, model.id, body["archive"], "archive")
        return validate_archive(uploads.materialise(upload, work / "upload.zip"), workdir=work), [upload]
    files = _text_files(body.get("files"))
    weights_spec = body.get("weights") or {}
    if not isinstance(weights_spec, dict):
        raise ValidationFailed.field("weights", "an object of {path in the bundle: upload id | {from_version: n}}")
    weights: dict[str, Path] = {}
    consumed = []
    reuse: dict[Any, list[str]] = {}
    for path, ref in weights_spec.items():
        if isinstance(ref, dict) and set(ref) == {"from_version"}:
            reuse.setdefault(ref["from_version"], []).append(path)
        else:
            upload = uploads.ready_upload(db, principal, model.id, ref, f"weights.{path}")
            weights[path] = uploads.materialise(upload, work / f"upload-{upload.id}")
            consumed.append(upload)
    for version, paths in reuse.items():
        weights.update(_previous_weights(db, model, version, paths, work))
    return validate_files(files, weights, workdir=work), consumed


def _publish_dir(root: Path, digest: str) -> Path:
    """The unpacked bundle where the model host finds it: read-only for everyone, written once."""
    target = bundle_dir(digest)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    staging = target.with_name(f".{digest}.{uuid.uuid4().hex}")
    shutil.copytree(root, staging)
    staging.replace(target)
    return target


def publish(db: Session, principal: Principal, model_id: uuid.UUID, body: dict[str, Any], *,
            client_ip: str | None) -> tuple[dict[str, Any], uuid.UUID]:
    """Check and store a new version (validating); the caller starts its smoke run once this is committed."""
    model, _ = require(db, principal, model_id, ModelAction.EDIT)
    notes = body.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 4000:
        raise ValidationFailed.field("notes", "text of at most 4000 characters")
    with _workspace() as work:
        try:
            checked, consumed = _gather(db, principal, model, body, work)
        except BundleInvalid as e:
            raise InvalidBundle(list(e.problems)) from e
        row = store_version(db, principal, model, checked, notes=notes, client_ip=client_ip)
    for upload in consumed:
        uploads.consume(db, upload)
    db.flush()
    return version_json(db, row, model), row.id


def store_version(db: Session, principal: Principal, model: AiModel, checked: Checked, *, notes: str,
                  client_ip: str | None) -> ModelVersion:
    """A checked bundle stored by its SHA-256 (never overwritten) and recorded as the model's next version."""
    bundle, root, manifest = checked.bundle, checked.root, checked.manifest
    same = db.scalar(select(ModelVersion.version).where(
        ModelVersion.model_id == model.id, ModelVersion.digest == bundle.digest,
        ModelVersion.status != VersionStatus.FAILED))
    if same is not None:
        raise Conflict(f"This bundle is already version {same} of the model.", code="duplicate_version")
    key = f"bundles/{model.id}/{bundle.digest}.zip"
    store().put_file(key, bundle.path)  # content-addressed: a key is only ever written with the same bytes
    _publish_dir(root, bundle.digest)
    files = [{"path": p.relative_to(root).as_posix(), "size": p.stat().st_size}
             for p in sorted(root.rglob("*")) if p.is_file()]
    number = (db.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == model.id)) or 0) + 1
    row = ModelVersion(id=uuid.uuid4(), model_id=model.id, version=number, status=VersionStatus.VALIDATING,
                       stage="smoke", digest=bundle.digest, bundle_key=key, size=bundle.size, notes=notes,
                       manifest=stored_manifest(manifest, checked.inputs), files=files, problems=[],
                       created_by=principal.user_id)
    db.add(row)
    audit.record(db, "model_version_published", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"model:{model.id}", details={"version": number, "digest": bundle.digest})
    db.flush()
    return row


def _editable_text(path: Path, size: int) -> str | None:
    """A file's text if the editor shows it (code and configuration), else None (a weight or other data)."""
    if path.suffix.lower() not in TEXT_SUFFIXES or size > MAX_TEXT:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def source(db: Session, principal: Principal, model_id: uuid.UUID, version: int) -> dict[str, Any]:
    """A version's text files, to start a new version from; its weights are named, reused by reference."""
    model, _ = require(db, principal, model_id, ModelAction.EDIT)
    row = version_of(db, model.id, version)
    if row.digest is None or not bundle_dir(row.digest).is_dir():
        raise Conflict(f"Version {version} failed; it kept no bundle.", code="version_failed")
    root = bundle_dir(row.digest)
    files: dict[str, str] = {}
    weights = []
    for item in row.files:
        text = _editable_text(root / item["path"], item["size"])
        if text is None:
            weights.append(item)
        else:
            files[item["path"]] = text
    return {"version": row.version, "files": files, "weights": weights}
