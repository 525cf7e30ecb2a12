"""The demo's models: the two sample models published for the demo researcher, validated by their smoke run
in the sandbox and published to health professionals, so a fresh install can run AI at once."""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "model_builder" / "samples"
# Sample folder → how it is published: its files through the editor's path, or as a MONAI Bundle archive.
DEMO_MODELS = (("ct_bone", "files"), ("ct_heart_unet", "archive"))
LEFT_OUT = {"train.py", "__pycache__"}  # the U-Net's training script is not part of its bundle

log = logging.getLogger(__name__)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not LEFT_OUT & set(p.relative_to(folder).parts)}


def bundle_zip(folder: Path, path: Path) -> Path:
    """A sample's bundle zipped as a researcher uploads it (without its training script)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _files(folder).items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def load(owner_email: str) -> list[str]:
    """Publish each sample model once for `owner_email` (a researcher); returns the names of those added."""
    from sqlalchemy import select

    from functions.auth import accounts
    from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
    from functions.common.platform import db
    from functions.common.security.tokens import Principal
    from functions.models import catalogue, publishing, smoke
    from functions.sharing import shares
    from model_builder.validation import validate_archive, validate_files

    added: list[tuple[str, object]] = []
    with db.session_scope() as session:
        owner = accounts.by_email(session, owner_email)
        principal = Principal.acting_for(owner.id, role=owner.role, status=owner.status)
        have = set(session.scalars(select(AiModel.name).where(AiModel.owner_id == owner.id)))
        for folder_name, how in DEMO_MODELS:
            folder = SAMPLES / folder_name
            with tempfile.TemporaryDirectory(prefix="mcc-demo-model-") as work:
                work_dir = Path(work)
                if how == "files":
                    checked = validate_files(_files(folder), {}, workdir=work_dir)
                else:
                    checked = validate_archive(bundle_zip(folder, work_dir / "bundle.zip"), workdir=work_dir)
                manifest = checked.manifest
                if manifest.name in have:
                    continue
                info = {"name": manifest.name, "description": manifest.description,
                        "architecture": manifest.architecture, "task": manifest.task.value,
                        "modality": manifest.modality}
                model = session.get(AiModel, catalogue.create(session, principal, info, client_ip=None)["id"])
                row = publishing.store_version(session, principal, model, checked, notes="Sample model.",
                                               client_ip=None)
                added.append((manifest.name, row.id))
    for name, version_id in added:
        smoke.run(version_id)
        with db.session_scope() as session:
            row = session.get(ModelVersion, version_id)
            if row.status != VersionStatus.READY:
                raise RuntimeError(f"the sample model {name!r} failed its smoke run: {row.problems}")
            owner = accounts.by_email(session, owner_email)
            principal = Principal.acting_for(owner.id, role=owner.role, status=owner.status)
            shares.publish(session, principal, row.model_id, version=row.version, client_ip=None)
        log.info("demo model %r published", name)
    return [name for name, _ in added]
