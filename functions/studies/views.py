"""Routes of the `studies` function: the portal's study list and study management."""

from __future__ import annotations

from functions.common.http import PASSWORD, Api, RequestContext, json_schema
from functions.studies import archive_import, service

api = Api("studies", prefix="/api/studies", title="MedCloudCare studies")


@api.route("", summary="List the studies the caller may see (filters, sort, paging, total)")
def list_studies(ctx: RequestContext):
    return service.list_studies(ctx)


@api.route("/import", ("POST",), summary="Import a zip archive of DICOM files (application/zip)",
           max_body=8 * 1024 * 1024 * 1024)
def import_archive(ctx: RequestContext):
    return archive_import.import_zip(ctx)


@api.route("/<study_uid>", summary="One study's summary")
def get_study(ctx: RequestContext, study_uid: str):
    return service.get_study(ctx, study_uid)


@api.route("/<study_uid>", ("DELETE",), summary="Delete a study (owner; asks for the password again)",
           body=json_schema({"password": PASSWORD}))
def delete_study(ctx: RequestContext, study_uid: str):
    service.delete_study(ctx, study_uid)
    return None
