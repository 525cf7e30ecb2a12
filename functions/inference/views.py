"""Routes of the `inference` function; the contract is docs/api/inference.md."""

from __future__ import annotations

from functions.common.access.requirements import PATIENT_DATA
from functions.common.http import ACCEPTED, NO_CONTENT, Api, RequestContext, json_schema
from functions.common.http.routes import UID_PATTERN
from functions.common.platform.errors import ValidationFailed
from functions.inference import runs

api = Api("inference", prefix="/api/inference", title="MedCloudCare inference")

UID = {"type": "string", "pattern": UID_PATTERN, "maxLength": 64}
JOB = "/jobs/<uuid:job_id>"


def _uid(ctx: RequestContext, name: str) -> str:
    value = ctx.args.get(name, "")
    if not value or len(value) > 64 or not all(part.isdigit() for part in value.split(".")):
        raise ValidationFailed.field(name, "a DICOM UID (digits and dots)")
    return value


@api.route("/models", access=PATIENT_DATA, summary="The models I may run on a series", query={"study": UID,
                                                                                              "series": UID})
def models(ctx: RequestContext):
    return runs.runnable_models(ctx.db, ctx.principal, study_uid=_uid(ctx, "study"), series_uid=_uid(ctx, "series"))


@api.route("/jobs", ("POST",), access=PATIENT_DATA, summary="Run a model on a series", answers=ACCEPTED,
           body=json_schema({"model_id": {"type": "string", "format": "uuid", "maxLength": 36}, "study_uid": UID,
                             "series_uid": UID}))
def start(ctx: RequestContext):
    return runs.start(ctx.db, ctx.principal, model_id=ctx.body["model_id"], study_uid=ctx.body["study_uid"],
                      series_uid=ctx.body["series_uid"], client_ip=ctx.client_ip)


@api.route("/jobs", access=PATIENT_DATA, summary="A study's jobs and results", query={"study": UID})
def jobs_of_study(ctx: RequestContext):
    return runs.list_for_study(ctx.db, ctx.principal, study_uid=_uid(ctx, "study"))


@api.route(JOB, access=PATIENT_DATA, summary="One job")
def job(ctx: RequestContext, job_id):
    return runs.get(ctx.db, ctx.principal, job_id)


@api.route(JOB, ("DELETE",), access=PATIENT_DATA, answers=NO_CONTENT,
           summary="Delete a job and its result from the study (study owner, the user who ran it)")
def delete(ctx: RequestContext, job_id):
    runs.delete(ctx.db, ctx.principal, job_id, client_ip=ctx.client_ip)


@api.route(JOB + "/cancel", ("POST",), access=PATIENT_DATA, summary="Cancel a job I ran")
def cancel(ctx: RequestContext, job_id):
    return runs.cancel(ctx.db, ctx.principal, job_id)
