"""Routes of the `dicomweb` gateway (PS3.18 on the platform origin, under /dicom-web).

Only these DICOMweb routes exist; nothing else of Orthanc is reachable through the platform. Every
route serves patient data (`PATIENT_DATA`); UIDs in paths are parsed by the `uid` converter. The
WADO-RS routes are declared once per level (study, series, instance).
"""

from __future__ import annotations

import json

import flask

from functions.common.access.requirements import PATIENT_DATA
from functions.common.http import Api, RequestContext
from functions.dicomweb import qido, stow, wado

api = Api("dicomweb", prefix="/dicom-web", title="MedCloudCare DICOMweb gateway")

STOW_MAX = 8 * 1024 * 1024 * 1024  # the real cap is MCC_MAX_STOW_BYTES, enforced while streaming
STUDY = "/studies/<uid:study>"
SERIES = STUDY + "/series/<uid:series>"
INSTANCE = SERIES + "/instances/<uid:sop>"
LEVELS = {"study": STUDY, "series": SERIES, "instance": INSTANCE}


def _dicom_json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, headers=headers, mimetype="application/dicom+json")


def _stream(answer: wado.Stream) -> flask.Response:
    return flask.Response(answer.chunks, status=answer.status, headers=answer.headers)


# ------------------------------------------------------------------------------------------- STOW

@api.route("/studies", ("POST",), access=PATIENT_DATA, summary="STOW-RS: store instances", max_body=STOW_MAX)
@api.route(STUDY, ("POST",), access=PATIENT_DATA, summary="STOW-RS: store instances into one study",
           max_body=STOW_MAX)
def store(ctx: RequestContext, study: str | None = None):
    parts = stow.request_parts(ctx.request, ctx.settings)
    return _dicom_json(*stow.store(ctx.db, ctx.principal, parts, study_uid=study, client_ip=ctx.client_ip))


# ------------------------------------------------------------------------------------------- QIDO

@api.route("/studies", access=PATIENT_DATA, summary="QIDO-RS: search studies")
def search_studies(ctx: RequestContext):
    query = qido.study_query(ctx.args)
    return _dicom_json(qido.search_studies(ctx.db, ctx.principal, query, client_ip=ctx.client_ip))


@api.route(STUDY + "/series", access=PATIENT_DATA, summary="QIDO-RS: series of a study")
@api.route(STUDY + "/instances", access=PATIENT_DATA, summary="QIDO-RS: instances of a study")
@api.route(SERIES + "/instances", access=PATIENT_DATA, summary="QIDO-RS: instances of a series")
def search_within(ctx: RequestContext, study: str, series: str | None = None):
    level = ctx.request.path.rsplit("/", 1)[1]
    return _dicom_json(qido.search_within(ctx.db, ctx.principal, study, series, level, ctx.args,
                                          client_ip=ctx.client_ip))


# ------------------------------------------------------------------------------------------- WADO

def metadata(ctx: RequestContext, study: str, series: str | None = None, sop: str | None = None):
    return _dicom_json(wado.metadata(ctx.db, ctx.principal, study, series, sop, client_ip=ctx.client_ip))


def retrieve(ctx: RequestContext, study: str, series: str | None = None, sop: str | None = None):
    return _stream(wado.retrieve(ctx.db, ctx.principal, study, series, sop, accept=ctx.request.headers.get("Accept"),
                                 client_ip=ctx.client_ip))


def pixels(suffix: str):
    """A view streaming pixels (`rendered`, or `frames/{n}` with `frames/{n}/rendered`)."""

    def view(ctx: RequestContext, study: str, series: str | None = None, sop: str | None = None,
             frames: str | None = None):
        path = suffix.format(frames=frames)
        return _stream(wado.pixels(ctx.db, ctx.principal, study, series, sop, path, client_ip=ctx.client_ip,
                                   accept=ctx.request.headers.get("Accept", "*/*"),
                                   params=list(ctx.args.items(multi=True))))

    return view


for _level, _path in LEVELS.items():
    api.route(_path + "/metadata", access=PATIENT_DATA, summary=f"WADO-RS: {_level} metadata")(metadata)
    api.route(_path, access=PATIENT_DATA, summary=f"WADO-RS: retrieve a {_level}")(retrieve)
    api.route(_path + "/rendered", access=PATIENT_DATA, summary=f"WADO-RS: rendered {_level}")(pixels("rendered"))
for _level, _path in (("series", SERIES), ("instance", INSTANCE)):  # a study has no thumbnail route (PS3.18)
    api.route(_path + "/thumbnail", access=PATIENT_DATA, summary=f"WADO-RS: {_level} thumbnail")(pixels("rendered"))
api.route(INSTANCE + "/frames/<frames:frames>", access=PATIENT_DATA, summary="WADO-RS: frames")(
    pixels("frames/{frames}"))
api.route(INSTANCE + "/frames/<frames:frames>/rendered", access=PATIENT_DATA, summary="WADO-RS: rendered frames")(
    pixels("frames/{frames}/rendered"))
