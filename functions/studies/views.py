"""Routes of the `studies` function: the portal's study list and study management."""

from __future__ import annotations

from functions.common.access.policy import SCOPES
from functions.common.access.requirements import PATIENT_DATA
from functions.common.dicom.search import SORTS, StudyFilter
from functions.common.http import NO_CONTENT, PASSWORD, Api, RequestContext, json_schema, one_of, paging, paging_query
from functions.studies import archive_import, service

api = Api("studies", prefix="/api/studies", title="MedCloudCare studies")

MAX_PAGE = 100
TEXT = {"type": "string"}
DATE = {"type": "string", "format": "date"}
LIST_QUERY = {"patient_name": TEXT, "patient_id": TEXT, "modality": TEXT, "date_from": DATE, "date_to": DATE,
              "scope": {"enum": list(SCOPES)}, "sort": {"enum": list(SORTS)}, "cursor": TEXT,
              **paging_query(max_limit=MAX_PAGE)}


@api.route("", access=PATIENT_DATA,
           summary="List the studies the caller may see (filters, sort, paging by offset or by the previous page's "
                   "next_cursor, total)",
           query=LIST_QUERY)
def list_studies(ctx: RequestContext):
    args = ctx.args
    limit, offset = paging(args, default_limit=25, max_limit=MAX_PAGE)
    f = StudyFilter(patient_name=args.get("patient_name") or None, patient_id=args.get("patient_id") or None,
                    modality=args.get("modality") or None, date_from=service.date_arg(args, "date_from"),
                    date_to=service.date_arg(args, "date_to"))
    return service.list_studies(ctx.db, ctx.principal, f, scope=one_of(args, "scope", SCOPES, default="all"),
                                sort=one_of(args, "sort", SORTS, default="date"), limit=limit, offset=offset,
                                cursor=args.get("cursor") or None, client_ip=ctx.client_ip)


@api.route("/import", ("POST",), access=PATIENT_DATA, summary="Import a zip archive of DICOM files (application/zip)",
           max_body=8 * 1024 * 1024 * 1024, accepts=("application/zip",))
def import_archive(ctx: RequestContext):
    with archive_import.spooled(ctx.request, ctx.settings.max_stow_bytes) as spool:
        return archive_import.import_zip(ctx.db, ctx.principal, spool, client_ip=ctx.client_ip)


@api.route("/<uid:study_uid>", access=PATIENT_DATA, summary="One study's summary")
def get_study(ctx: RequestContext, study_uid: str):
    return service.get_study(ctx.db, ctx.principal, study_uid, client_ip=ctx.client_ip)


@api.route("/<uid:study_uid>", ("DELETE",), access=PATIENT_DATA,
           summary="Delete a study (owner; asks for the password again)", body=json_schema({"password": PASSWORD}),
           answers=NO_CONTENT)
def delete_study(ctx: RequestContext, study_uid: str):
    service.delete_study(ctx.db, ctx.principal, study_uid, password=ctx.body["password"], client_ip=ctx.client_ip)
