"""The smoke run: a stored version is started in its sandbox, given a synthetic series of its modality carrying
the DICOM attributes its tasks declare (and only those, as inference sends them), and its output checked against
its task. Then it is ready (and active, if the model had no active version) or failed with the reasons; a failed
version keeps no bundle."""

from __future__ import annotations

import logging
import threading
import uuid

from functions.common.ai_models import services
from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
from functions.common.ai_models.versions import declared_inputs, version_manifest
from functions.common.platform import db
from functions.common.platform.db import utcnow
from functions.common.platform.storage import store
from functions.models.catalogue import apply_manifest
from model_builder.deploy import DeployError
from model_builder.runtime.codec import decode_response, encode_request
from model_builder.validation import Problem
from model_builder.validation.smoke import check_outputs, smoke_failure, synthetic_volume

log = logging.getLogger(__name__)


def start(version_id: uuid.UUID) -> threading.Thread:
    """Run the smoke test of a committed version in the background (the request has answered 202)."""
    thread = threading.Thread(target=run, args=(version_id,), name=f"smoke-{version_id}", daemon=True)
    thread.start()
    return thread


def _try(row: ModelVersion, model: AiModel) -> list[Problem]:
    manifest = version_manifest(row)
    volume = synthetic_volume(manifest.modality, inputs=declared_inputs(row))  # what inference will send, no more
    name = f"smoke-{row.id.hex[:20]}"
    deployer = services.deployer()
    deployer.deploy(services.spec_for(model, row, name=name, max_instances=1, idle_seconds=5))
    try:
        body, headers = encode_request(volume)
        reply = deployer.infer(name, body, headers)
        if reply.status != 200:
            return [smoke_failure(reply.reason(), "")]
        return check_outputs(manifest, volume, decode_response(reply.body, reply.headers))
    finally:
        deployer.undeploy(name)


def run(version_id: uuid.UUID) -> None:
    with db.session_scope() as session:
        row = session.get(ModelVersion, version_id)
        model = session.get(AiModel, row.model_id) if row else None
        if row is None or model is None or row.status != VersionStatus.VALIDATING:
            return
        try:
            problems = _try(row, model)
        except DeployError as e:
            problems = [Problem("smoke", None, None, None, f"the model could not be started: {e}")]
        except Exception:  # noqa: BLE001 - whatever broke, the version must not stay validating
            log.exception("smoke run failed", extra={"model": str(model.id), "version": row.version})
            problems = [Problem("smoke", None, None, None, "the smoke run failed on our side; publish again")]
        row.stage, row.finished_at = None, utcnow()
        if problems:
            row.status, row.problems = VersionStatus.FAILED, [p.to_json() for p in problems]
            if row.bundle_key:
                store().delete(row.bundle_key)
            row.bundle_key = None
        else:
            row.status = VersionStatus.READY
            if model.active_version is None:
                model.active_version = row.version
                apply_manifest(model, row.manifest)
        session.flush()
        if row.status == VersionStatus.READY:
            try:
                services.sync(session, model)
            except DeployError:
                pass  # the service follows on the next activation or when the host is back
