"""Routes of the `models` function: the model registry. The contract is docs/api/models.md; every route is
for accounts with access to patient data, and what each caller may do comes from the one permission model."""

from __future__ import annotations

from functions.common.access.requirements import PATIENT_DATA
from functions.common.http import ACCEPTED, CREATED, NO_CONTENT, Api, RequestContext, json_schema, one_of, read_limited
from functions.models import catalogue, lifecycle, publishing, smoke, uploads

api = Api("models", prefix="/api/models", title="MedCloudCare model registry")

SCOPES = ("all", "mine", "shared", "published")
MODEL = "/<uuid:model_id>"
VERSION = MODEL + "/versions/<version:version>"
UPLOAD = MODEL + "/uploads/<uuid:upload_id>"
TEXT = {"type": "string", "maxLength": 4000}
INFO = json_schema({"name": {"type": "string", "maxLength": 400}, "description": TEXT,
                    "architecture": {"type": "string", "maxLength": 400}, "task": {"type": "string", "maxLength": 32},
                    "modality": {"type": "string", "maxLength": 16}}, required=["name", "architecture", "task",
                                                                                 "modality"])
PUBLISH = {"type": "object", "additionalProperties": False, "properties": {
    "files": {"type": "object", "additionalProperties": {"type": "string"}},
    "weights": {"type": "object", "additionalProperties": {"anyOf": [
        {"type": "string", "maxLength": 64},
        json_schema({"from_version": {"type": "integer", "minimum": 1, "maximum": 1000000}})]}},
    "archive": {"type": "string", "maxLength": 64},
    "notes": TEXT}}
UPLOAD_BODY = json_schema({"name": {"type": "string", "maxLength": 400},
                           "size": {"type": "integer", "minimum": 1, "maximum": 2**53},
                           "sha256": {"type": "string", "maxLength": 64}}, required=["name", "size"])


@api.route("", access=PATIENT_DATA, summary="The models I may see", query={"scope": {"enum": list(SCOPES)}})
def list_models(ctx: RequestContext):
    return catalogue.list_models(ctx.db, ctx.principal, scope=one_of(ctx.args, "scope", SCOPES, default="all"))


@api.route("", ("POST",), access=PATIENT_DATA, summary="Add a model (researchers)", body=INFO, answers=CREATED)
def create_model(ctx: RequestContext):
    return catalogue.create(ctx.db, ctx.principal, ctx.body, client_ip=ctx.client_ip)


@api.route("/templates", access=PATIENT_DATA, summary="The editor's starting points")
def templates(ctx: RequestContext):
    return lifecycle.templates(ctx.principal)


@api.route(MODEL, access=PATIENT_DATA, summary="A model with the versions I may see")
def get_model(ctx: RequestContext, model_id):
    return catalogue.get(ctx.db, ctx.principal, model_id)


@api.route(MODEL, ("DELETE",), access=PATIENT_DATA, summary="Delete a model: services, bundles (owner)",
           answers=NO_CONTENT)
def delete_model(ctx: RequestContext, model_id):
    lifecycle.delete(ctx.db, ctx.principal, model_id, client_ip=ctx.client_ip)


@api.route(MODEL + "/active", ("PUT",), access=PATIENT_DATA, summary="Activate or roll back to a ready version",
           body=json_schema({"version": {"type": "integer", "minimum": 1, "maximum": 1000000}}))
def activate(ctx: RequestContext, model_id):
    return lifecycle.activate(ctx.db, ctx.principal, model_id, version=ctx.body["version"], client_ip=ctx.client_ip)


@api.route(MODEL + "/service", access=PATIENT_DATA, summary="The state of the active version's service")
def service(ctx: RequestContext, model_id):
    return lifecycle.service(ctx.db, ctx.principal, model_id)


@api.route(MODEL + "/versions", ("POST",), access=PATIENT_DATA, summary="Publish a new version (editors)",
           body=PUBLISH, max_body=256 * 1024 * 1024, answers=(ACCEPTED,))
def publish(ctx: RequestContext, model_id):
    result, version_id = publishing.publish(ctx.db, ctx.principal, model_id, ctx.body, client_ip=ctx.client_ip)
    ctx.db.commit()
    smoke.start(version_id)
    return result


@api.route(VERSION, access=PATIENT_DATA, summary="One version, its manifest and files")
def get_version(ctx: RequestContext, model_id, version):
    return lifecycle.version(ctx.db, ctx.principal, model_id, version)


@api.route(VERSION + "/source", access=PATIENT_DATA, summary="A version's text files, to edit (editors)")
def version_source(ctx: RequestContext, model_id, version):
    return publishing.source(ctx.db, ctx.principal, model_id, version)


@api.route(MODEL + "/uploads", ("POST",), access=PATIENT_DATA, summary="Start a resumable upload (editors)",
           body=UPLOAD_BODY, answers=CREATED)
def create_upload(ctx: RequestContext, model_id):
    return uploads.create(ctx.db, ctx.principal, model_id, ctx.body)


@api.route(UPLOAD, access=PATIENT_DATA, summary="How much of an upload arrived")
def get_upload(ctx: RequestContext, model_id, upload_id):
    return uploads.get(ctx.db, ctx.principal, model_id, upload_id)


@api.route(UPLOAD, ("PUT",), access=PATIENT_DATA, summary="Send the next chunk (Content-Range)",
           max_body=64 * 1024 * 1024, accepts=("application/octet-stream",))
def put_chunk(ctx: RequestContext, model_id, upload_id):
    chunk = read_limited(ctx.request, ctx.settings.model_chunk_bytes)
    return uploads.put_chunk(ctx.db, ctx.principal, model_id, upload_id,
                             content_range=ctx.request.headers.get("Content-Range"), chunk=chunk)


@api.route(UPLOAD, ("DELETE",), access=PATIENT_DATA, summary="Discard an upload", answers=NO_CONTENT)
def delete_upload(ctx: RequestContext, model_id, upload_id):
    uploads.delete(ctx.db, ctx.principal, model_id, upload_id)
