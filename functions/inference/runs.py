"""Which models a caller may run on a series, queueing a run, and the jobs and results of a study.

A run is allowed when the caller may use the model (its active version for the owner and sharees, its
published version for health professionals), may read the study, and may add to it (the result is stored
in the study as their contribution). Everything is decided by the one permission model.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import (
    Action,
    ModelAction,
    may_store_into,
    model_access,
    model_for,
    study_for,
    visible_models,
)
from functions.common.accounts.people import person
from functions.common.accounts.tables import User
from functions.common.ai_models import jobs
from functions.common.ai_models.jobs import InferenceJob
from functions.common.ai_models.tables import AiModel, ModelVersion, VersionStatus
from functions.common.dicom import removal
from functions.common.dicom.index import Series, Study
from functions.common.platform.errors import ApiError, Conflict, Forbidden, NotFound
from functions.common.security import audit
from functions.common.security.tokens import Principal

JOBS_PER_USER = 4
JOB_TIMEOUT_SECONDS = 600


class TooManyJobs(ApiError):
    status, code, title = 429, "too_many_jobs", "Too many jobs"


def runnable_version(db: Session, principal: Principal, model: AiModel) -> ModelVersion | None:
    """The version this caller runs: the published one for health professionals, the active one for the others."""
    access = model_access(db, principal, model)
    query = select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.status == VersionStatus.READY)
    if access == "published":
        return db.scalar(query.where(ModelVersion.published))
    if access in ("owner", "edit", "use") and model.active_version is not None:
        return db.scalar(query.where(ModelVersion.version == model.active_version))
    return None


def _series(db: Session, principal: Principal, study_uid: str, series_uid: str) -> Series:
    study = study_for(db, principal, study_uid, Action.READ, series_uid=series_uid)
    series = db.scalar(select(Series).where(Series.series_uid == series_uid, Series.study_pk == study.id))
    if series is None:  # study_for checked it is there; a concurrent delete
        raise NotFound("No such series.")
    return series


def runnable_models(db: Session, principal: Principal, *, study_uid: str, series_uid: str) -> dict[str, Any]:
    series = _series(db, principal, study_uid, series_uid)
    items = []
    for model in db.scalars(visible_models(principal, "all").order_by(AiModel.name, AiModel.id).limit(200)):
        version = runnable_version(db, principal, model)
        if version is None:
            continue
        items.append({"model_id": str(model.id), "name": model.name, "task": model.task, "modality": model.modality,
                      "labels": list(model.labels or []), "version": version.version,
                      "modality_match": not model.modality or model.modality == (series.modality or "")})
    return {"items": items}


def job_json(db: Session, job: InferenceJob, *, principal: Principal, study_owner: uuid.UUID) -> dict[str, Any]:
    """A job as the caller sees it; `may_delete` says whether they may delete it (and its result)."""
    model = db.get(AiModel, job.model_id) if job.model_id else None
    user = db.get(User, job.user_id)
    return {"id": str(job.id), "model": {"id": str(job.model_id), "name": model.name} if model else None,
            "version": job.version, "digest": job.digest, "study_uid": job.study_uid, "series_uid": job.series_uid,
            "user": person(user) if user else None, "status": job.status, "stage": job.stage,
            "progress": job.progress, "cancel_requested": job.cancel_requested, "error": job.error,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "result": job.result or None, "may_delete": principal.user_id in (job.user_id, study_owner)}


def start(db: Session, principal: Principal, *, model_id: uuid.UUID, study_uid: str, series_uid: str,
          client_ip: str | None) -> dict[str, Any]:
    """Queue a run of the model on the series, as the caller."""
    _series(db, principal, study_uid, series_uid)
    study = study_for(db, principal, study_uid, Action.READ)
    model = model_for(db, principal, model_id, ModelAction.USE)
    if not may_store_into(db, principal, study):
        raise Forbidden("Results are stored in the study as yours: you need to own the study or have it shared with"
                        " you to contribute.", code="cannot_store_results")
    version = runnable_version(db, principal, model)
    if version is None or version.digest is None:
        raise Conflict("This model has no version you may run yet.", code="model_not_ready")
    try:
        job = jobs.enqueue(db, user_id=principal.user_id, model_id=model.id, version=version.version,
                           digest=version.digest, study_uid=study_uid, series_uid=series_uid, per_user=JOBS_PER_USER,
                           timeout_seconds=JOB_TIMEOUT_SECONDS)
    except jobs.TooManyJobs as e:
        raise TooManyJobs(f"You have {e.limit} jobs queued or running; wait for one to end.",
                          headers={"Retry-After": "10"}) from e
    audit.record(db, "inference_queued", actor_id=principal.user_id, client_ip=client_ip, target=f"study:{study_uid}",
                 details={"model": str(model.id), "version": version.version, "job": str(job.id)})
    return job_json(db, job, principal=principal, study_owner=study.owner_id)


def _job(db: Session, principal: Principal, job_id: uuid.UUID) -> tuple[InferenceJob, Study]:
    job = db.get(InferenceJob, job_id)
    if job is None:
        raise NotFound("No such job.")
    study = study_for(db, principal, job.study_uid, Action.READ)  # 404 like unknown if not theirs to read
    return job, study


def get(db: Session, principal: Principal, job_id: uuid.UUID) -> dict[str, Any]:
    job, study = _job(db, principal, job_id)
    return job_json(db, job, principal=principal, study_owner=study.owner_id)


def list_for_study(db: Session, principal: Principal, *, study_uid: str) -> dict[str, Any]:
    study = study_for(db, principal, study_uid, Action.READ)
    rows = db.scalars(select(InferenceJob).where(InferenceJob.study_uid == study_uid)
                      .order_by(InferenceJob.created_at.desc()).limit(200))
    return {"items": [job_json(db, job, principal=principal, study_owner=study.owner_id) for job in rows]}


def cancel(db: Session, principal: Principal, job_id: uuid.UUID) -> dict[str, Any]:
    job, study = _job(db, principal, job_id)
    if job.user_id != principal.user_id:
        raise Forbidden("Only the user who ran the job may cancel it.", code="not_job_owner")
    if job.status not in jobs.ACTIVE:
        raise Conflict(f"The job is {job.status} already.", code="job_finished")
    jobs.cancel(db, job)
    return job_json(db, job, principal=principal, study_owner=study.owner_id)



def delete(db: Session, principal: Principal, job_id: uuid.UUID, *, client_ip: str | None) -> None:
    """Remove a finished job and its result from the study: for the study's owner and the user who ran it."""
    job, study = _job(db, principal, job_id)
    if principal.user_id not in (job.user_id, study.owner_id):
        raise Forbidden("Only the study's owner or the user who ran the job may delete its result.",
                        code="not_result_owner")
    if job.status in jobs.ACTIVE:
        raise Conflict(f"The job is {job.status}: cancel it first.", code="job_active")
    series = {item["series_uid"] for item in (job.result or {}).get("instances", [])}
    gone = removal.remove_series(db, study, series)
    db.delete(job)
    audit.record(db, "inference_result_deleted", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"study:{job.study_uid}", details={"job": str(job.id), "instances": len(gone.instances)})
    db.commit()  # the index first: the archive's copies go only once nothing can serve them
    removal.finish(db, gone)
