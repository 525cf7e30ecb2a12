"""Model versions as services: which versions run (the active one and the published one), through the
deployer chosen by configuration (`local`: the model host's sandboxes; the cloud issue adds `knative`)."""

from __future__ import annotations

import functools
import logging
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
from functions.common.platform.config import get_settings
from model_builder.deploy import Deployer, DeployError, Limits, ServiceSpec

log = logging.getLogger(__name__)


@functools.cache
def _deployer(kind: str, socket: Path, knative: tuple[str, str, str | None, str | None, str | None]) -> Deployer:
    if kind == "knative":
        from model_builder.deploy.knative import KnativeDeployer
        from model_builder.deploy.knative_objects import ClusterSettings

        namespace, image, runtime_class, api_url, runtime_image = knative
        return KnativeDeployer(ClusterSettings(namespace=namespace, image=image, runtime_class=runtime_class,
                                               runtime_image=runtime_image), api_url=api_url)
    from model_builder.deploy.client import HostClient

    return HostClient(socket)


def deployer() -> Deployer:
    settings = get_settings()
    knative = (settings.knative_namespace, settings.knative_model_image, settings.knative_runtime_class,
               settings.knative_api_url, settings.knative_runtime_image)
    return _deployer(settings.model_deployer, settings.model_host_path, knative)


def _prefix(model_id: uuid.UUID) -> str:
    """What every service of one model is named from."""
    return f"m-{model_id.hex[:20]}-"


def service_name(model_id: uuid.UUID, version: int) -> str:
    """A DNS label, as Knative needs: `m-<model id>-v<n>`."""
    return f"{_prefix(model_id)}v{version}"


def bundle_dir(digest: str) -> Path:
    return get_settings().bundles_path / digest


def spec_for(model: AiModel, row: ModelVersion, *, name: str | None = None, max_instances: int = 2,
             idle_seconds: int = 300) -> ServiceSpec:
    settings = get_settings()
    return ServiceSpec(name=name or service_name(model.id, row.version), bundle_dir=bundle_dir(row.digest),
                       model_name=service_name(model.id, row.version), version=str(row.version),
                       limits=Limits(memory_bytes=settings.model_memory_bytes,
                                     request_seconds=settings.model_smoke_seconds),
                       max_instances=max_instances, idle_seconds=idle_seconds)


def wanted(db: Session, model: AiModel) -> dict[str, ModelVersion]:
    """The services a model should have: its active version and its published one, if ready and stored."""
    rows = db.scalars(select(ModelVersion).where(
        ModelVersion.model_id == model.id, ModelVersion.status == VersionStatus.READY,
        ModelVersion.digest.is_not(None),  # a version without a stored bundle has nothing to serve
        (ModelVersion.version == (model.active_version or -1)) | ModelVersion.published)).all()
    return {service_name(model.id, row.version): row for row in rows}


def ensure(model: AiModel, row: ModelVersion) -> str:
    """The service of a runnable version, deployed if the deployer lost it (a restarted model host keeps nothing;
    deploying the same spec again changes nothing); its name."""
    spec = spec_for(model, row)
    deployer().deploy(spec)
    return spec.name


def sync(db: Session, model: AiModel) -> None:
    """Make the deployer run exactly the wanted services of this model (deploying is cheap: scaled to zero)."""
    target = deployer()
    prefix = _prefix(model.id)
    want = wanted(db, model)
    try:
        running = {s.name for s in target.services() if s.name.startswith(prefix)}
        for name, row in want.items():
            if name not in running:
                target.deploy(spec_for(model, row))
        for name in running - set(want):
            target.undeploy(name)
    except DeployError:
        log.warning("deployer unavailable: model services not updated", extra={"model": str(model.id)})
        raise


def stop_all(model_id: uuid.UUID) -> None:
    """Stop every service of a model (deleted)."""
    target = deployer()
    prefix = _prefix(model_id)
    for service in target.services():
        if service.name.startswith(prefix):
            target.undeploy(service.name)


def status(db: Session, model: AiModel) -> dict:
    if model.active_version is None:
        return {"version": None, "state": "stopped", "instances": 0, "last_failure": None}
    try:
        s = deployer().status(service_name(model.id, model.active_version))
    except DeployError:
        return {"version": model.active_version, "state": "stopped", "instances": 0,
                "last_failure": "the model host is not reachable"}
    return {"version": model.active_version, "state": s.state, "instances": s.instances,
            "last_failure": s.last_failure.detail if s.last_failure else None}
