"""Routes of the `dicomweb` gateway (PS3.18 on the platform origin, under /dicom-web).

Only these DICOMweb routes exist; nothing else of Orthanc is reachable through the platform. Every
route serves patient data (`PATIENT_DATA`); UIDs in paths are parsed by the `uid` converter. The
WADO-RS routes are declared once per level (study, series, instance).
"""

from __future__ import annotations

import json

import flask

from functions.common.access.requirements import PATIENT_DATA
from functions.common.http import Answer, Api, RequestContext
from functions.dicomweb import qido, rendering, stow, wado

api = Api("dicomweb", prefix="/dicom-web", title="MedCloudCare DICOMweb gateway")

STOW_MAX = 8 * 1024 * 1024 * 1024  # the real cap is MCC_MAX_STOW_BYTES, enforced while streaming
STUDY = "/studies/<uid:study>"
SERIES = STUDY + "/series/<uid:series>"
INSTANCE = SERIES + "/instances/<uid:sop>"
LEVELS = {"study": STUDY, "series": SERIES, "instance": INSTANCE}

# What the routes answer (PS3.18): DICOM JSON (F.2: attributes by tag, each with its VR), instances, pixels.
DICOM_JSON = "application/dicom+json"
_ATTRIBUTE = {"type": "object", "required": ["vr"], "additionalProperties": False, "properties": {
    "vr": {"type": "string", "pattern": "^[A-Z]{2}$"}, "Value": {"type": "array"},
    "BulkDataURI": {"type": "string"}, "InlineBinary": {"type": "string"}}}
DATASET = {"type": "object", "propertyNames": {"pattern": "^[0-9A-F]{8}$"}, "additionalProperties": _ATTRIBUTE}
DATASETS = Answer(200, (DICOM_JSON,), {"type": "array", "items": DATASET})
STORED = tuple(Answer(status, (DICOM_JSON,), DATASET) for status in (200, 202, 409))  # all, some, none stored
INSTANCES = Answer(200, (wado.DICOM_PARTS,))
FRAMES = Answer(200, ('multipart/related; type="application/octet-stream"',))
IMAGE = Answer(200, rendering.MEDIA_TYPES)


def _dicom_json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, headers=headers, mimetype="application/dicom+json")


def _stream(answer: wado.Stream) -> flask.Response:
    if wado.compressible(answer) and flask.request.accept_encodings["gzip"] > 0:
        answer = wado.gzipped(answer)
    return flask.Response(answer.chunks, status=answer.status, headers=answer.headers)


# ------------------------------------------------------------------------------------------- STOW

@api.route("/studies", ("POST",), access=PATIENT_DATA, summary="STOW-RS: store instances", max_body=STOW_MAX,
           accepts=(wado.DICOM_PARTS,), answers=STORED)
@api.route(STUDY, ("POST",), access=PATIENT_DATA, summary="STOW-RS: store instances into one study",
           max_body=STOW_MAX, accepts=(wado.DICOM_PARTS,), answers=STORED)
def store(ctx: RequestContext, study: str | None = None):
    parts = stow.request_parts(ctx.request, ctx.settings)
    return _dicom_json(*stow.store(ctx.db, ctx.principal, parts, study_uid=study, client_ip=ctx.client_ip))


# ------------------------------------------------------------------------------------------- QIDO

@api.route("/studies", access=PATIENT_DATA, summary="QIDO-RS: search studies", query=qido.STUDY_QUERY,
           answers=DATASETS)
def search_studies(ctx: RequestContext):
    query = qido.study_query(ctx.args)
    return _dicom_json(qido.search_studies(ctx.db, ctx.principal, query, client_ip=ctx.client_ip))


@api.route(STUDY + "/series", access=PATIENT_DATA, summary="QIDO-RS: series of a study", query=qido.SERIES_QUERY,
           answers=DATASETS)
@api.route(STUDY + "/instances", access=PATIENT_DATA, summary="QIDO-RS: instances of a study",
           query=qido.INSTANCE_QUERY, answers=DATASETS)
@api.route(SERIES + "/instances", access=PATIENT_DATA, summary="QIDO-RS: instances of a series",
           query=qido.INSTANCE_QUERY, answers=DATASETS)
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


RENDERED = {"access": PATIENT_DATA, "query": rendering.QUERY, "answers": IMAGE}
for _level, _path in LEVELS.items():
    api.route(_path + "/metadata", access=PATIENT_DATA, summary=f"WADO-RS: {_level} metadata", answers=DATASETS)(
        metadata)
    api.route(_path, access=PATIENT_DATA, summary=f"WADO-RS: retrieve a {_level}", answers=INSTANCES)(retrieve)
    api.route(_path + "/rendered", summary=f"WADO-RS: rendered {_level}", **RENDERED)(pixels("rendered"))
for _level, _path in (("series", SERIES), ("instance", INSTANCE)):  # a study has no thumbnail route (PS3.18)
    api.route(_path + "/thumbnail", summary=f"WADO-RS: {_level} thumbnail", **RENDERED)(pixels("rendered"))
api.route(INSTANCE + "/frames/<frames:frames>", access=PATIENT_DATA, summary="WADO-RS: frames", answers=FRAMES)(
    pixels("frames/{frames}"))
api.route(INSTANCE + "/frames/<frames:frames>/rendered", summary="WADO-RS: rendered frames", **RENDERED)(
    pixels("frames/{frames}/rendered"))
