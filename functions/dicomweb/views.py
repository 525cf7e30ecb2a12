"""Routes of the `dicomweb` gateway (PS3.18 on the platform origin, under /dicom-web).

Only these DICOMweb routes exist; nothing else of Orthanc is reachable through the platform.
"""

from __future__ import annotations

import json
import re

import flask

from functions.common.errors import NotFound
from functions.common.http import Api, RequestContext
from functions.dicomweb import qido, stow, wado

api = Api("dicomweb", prefix="/dicom-web", title="MedCloudCare DICOMweb gateway")

UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
FRAMES = re.compile(r"^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,999}$")
STOW_MAX = 8 * 1024 * 1024 * 1024  # the real cap is MCC_MAX_STOW_BYTES, enforced while streaming


def _uids(*values: str | None) -> None:
    for v in values:
        if v is not None and (len(v) > 64 or not UID.match(v)):
            raise NotFound("No such study, series or instance.")


def _dicom_json(items: list) -> flask.Response:
    return flask.Response(json.dumps(items), mimetype="application/dicom+json")


@api.route("/studies", ("POST",), summary="STOW-RS: store instances", max_body=STOW_MAX)
def store(ctx: RequestContext):
    body, status = stow.store(ctx, None)
    return flask.Response(json.dumps(body), status=status, mimetype="application/dicom+json")


@api.route("/studies/<study>", ("POST",), summary="STOW-RS: store instances into one study", max_body=STOW_MAX)
def store_into(ctx: RequestContext, study: str):
    _uids(study)
    body, status = stow.store(ctx, study)
    return flask.Response(json.dumps(body), status=status, mimetype="application/dicom+json")


@api.route("/studies", summary="QIDO-RS: search studies")
def search_studies(ctx: RequestContext):
    return _dicom_json(qido.search_studies(ctx))


@api.route("/studies/<study>/series", summary="QIDO-RS: series of a study")
def search_series(ctx: RequestContext, study: str):
    _uids(study)
    return _dicom_json(qido.search_within(ctx, study, "/series", qido.SERIES_KEYS))


@api.route("/studies/<study>/series/<series>/instances", summary="QIDO-RS: instances of a series")
def search_instances(ctx: RequestContext, study: str, series: str):
    _uids(study, series)
    return _dicom_json(qido.search_within(ctx, study, f"/series/{series}/instances", qido.INSTANCE_KEYS))


@api.route("/studies/<study>/instances", summary="QIDO-RS: instances of a study")
def search_study_instances(ctx: RequestContext, study: str):
    _uids(study)
    return _dicom_json(qido.search_within(ctx, study, "/instances", qido.INSTANCE_KEYS))


@api.route("/studies/<study>/metadata", summary="WADO-RS: study metadata")
def study_metadata(ctx: RequestContext, study: str):
    _uids(study)
    return wado.metadata(ctx, study)


@api.route("/studies/<study>/series/<series>/metadata", summary="WADO-RS: series metadata")
def series_metadata(ctx: RequestContext, study: str, series: str):
    _uids(study, series)
    return wado.metadata(ctx, study, series)


@api.route("/studies/<study>/series/<series>/instances/<sop>/metadata", summary="WADO-RS: instance metadata")
def instance_metadata(ctx: RequestContext, study: str, series: str, sop: str):
    _uids(study, series, sop)
    return wado.metadata(ctx, study, series, sop)


@api.route("/studies/<study>", summary="WADO-RS: retrieve a study")
def retrieve_study(ctx: RequestContext, study: str):
    _uids(study)
    return wado.retrieve(ctx, study)


@api.route("/studies/<study>/series/<series>", summary="WADO-RS: retrieve a series")
def retrieve_series(ctx: RequestContext, study: str, series: str):
    _uids(study, series)
    return wado.retrieve(ctx, study, series)


@api.route("/studies/<study>/series/<series>/instances/<sop>", summary="WADO-RS: retrieve an instance")
def retrieve_instance(ctx: RequestContext, study: str, series: str, sop: str):
    _uids(study, series, sop)
    return wado.retrieve(ctx, study, series, sop)


@api.route("/studies/<study>/series/<series>/instances/<sop>/frames/<frames>", summary="WADO-RS: frames")
def frames(ctx: RequestContext, study: str, series: str, sop: str, frames: str):
    _uids(study, series, sop)
    if not FRAMES.match(frames):
        raise NotFound("Frame numbers are a comma-separated list of positive integers.")
    return wado.passthrough(ctx, study, series, sop, f"frames/{frames}")


@api.route("/studies/<study>/rendered", summary="WADO-RS: rendered study")
def rendered_study(ctx: RequestContext, study: str):
    _uids(study)
    return wado.passthrough(ctx, study, None, None, "rendered")


@api.route("/studies/<study>/series/<series>/rendered", summary="WADO-RS: rendered series")
def rendered_series(ctx: RequestContext, study: str, series: str):
    _uids(study, series)
    return wado.passthrough(ctx, study, series, None, "rendered")


@api.route("/studies/<study>/series/<series>/instances/<sop>/rendered", summary="WADO-RS: rendered instance")
def rendered_instance(ctx: RequestContext, study: str, series: str, sop: str):
    _uids(study, series, sop)
    return wado.passthrough(ctx, study, series, sop, "rendered")


@api.route("/studies/<study>/series/<series>/instances/<sop>/frames/<frames>/rendered",
           summary="WADO-RS: rendered frames")
def rendered_frames(ctx: RequestContext, study: str, series: str, sop: str, frames: str):
    _uids(study, series, sop)
    if not FRAMES.match(frames):
        raise NotFound("Frame numbers are a comma-separated list of positive integers.")
    return wado.passthrough(ctx, study, series, sop, f"frames/{frames}/rendered")


@api.route("/studies/<study>/series/<series>/thumbnail", summary="WADO-RS: series thumbnail")
def thumbnail_series(ctx: RequestContext, study: str, series: str):
    _uids(study, series)
    return wado.passthrough(ctx, study, series, None, "rendered")


@api.route("/studies/<study>/series/<series>/instances/<sop>/thumbnail", summary="WADO-RS: instance thumbnail")
def thumbnail_instance(ctx: RequestContext, study: str, series: str, sop: str):
    _uids(study, series, sop)
    return wado.passthrough(ctx, study, series, sop, "rendered")
