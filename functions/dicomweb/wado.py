"""WADO-RS for studies the caller may read: metadata and instances with originals restored;
frames, rendered and thumbnails streamed from Orthanc unchanged (pixels carry no pseudonyms)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator

import flask
import pydicom
from sqlalchemy import select

from functions.common import audit, pseudonyms
from functions.common.authz import Action, require_patient_data_access, study_for
from functions.common.crypto import open_with_key
from functions.common.errors import NotFound, ValidationFailed
from functions.common.http import RequestContext
from functions.common.index import Instance, Series, Study
from functions.common.orthanc import orthanc
from functions.common.study_query import study_key
from functions.dicomweb.qido import restore_items

STREAM_CHUNK = 256 * 1024
PASS_HEADERS = ("Content-Type", "Content-Length")


AUDIT_WINDOW = 300.0  # seconds: a viewer fetching hundreds of frames is one access, not hundreds
_recent_views: dict[tuple, float] = {}
_recent_lock = threading.Lock()


def _first_view_in_window(key: tuple) -> bool:
    now = time.monotonic()
    with _recent_lock:
        if now - _recent_views.get(key, -AUDIT_WINDOW) < AUDIT_WINDOW:
            return False
        if len(_recent_views) > 50_000:
            _recent_views.clear()
        _recent_views[key] = now
        return True


def _authorised(ctx: RequestContext, study_uid: str, what: str) -> Study:
    """Check access on every request; audit the view once per user, study and kind per window."""
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    study = study_for(ctx.db, principal, study_uid, Action.READ)
    if _first_view_in_window((principal.user_id, study.id, what, ctx.client_ip)):
        audit.record(ctx.db, "study_view", actor_id=principal.user_id, client_ip=ctx.client_ip,
                     target=f"study:{study.study_uid}", details={"what": what})
    return study


def _orthanc_path(study: Study, series_uid: str | None, sop_uid: str | None) -> str:
    path = f"/dicom-web/studies/{study.study_uid}"
    if series_uid:
        path += f"/series/{series_uid}"
    if sop_uid:
        path += f"/instances/{sop_uid}"
    return path


def metadata(ctx: RequestContext, study_uid: str, series_uid: str | None = None,
             sop_uid: str | None = None) -> flask.Response:
    study = _authorised(ctx, study_uid, "metadata")
    resp = orthanc().request("GET", _orthanc_path(study, series_uid, sop_uid) + "/metadata",
                             headers={"Accept": "application/dicom+json"})
    if resp.status_code == 404 or not resp.content:
        raise NotFound("No such series or instance in this study.")
    items = restore_items(ctx, study, resp.json())
    return flask.Response(json.dumps(items), mimetype="application/dicom+json")


def _instances(ctx: RequestContext, study: Study, series_uid: str | None, sop_uid: str | None) -> list[Instance]:
    query = select(Instance).join(Series).where(Series.study_pk == study.id)
    if series_uid:
        query = query.where(Series.series_uid == series_uid)
    if sop_uid:
        query = query.where(Instance.sop_uid == sop_uid)
    rows = ctx.db.scalars(query.order_by(Series.series_number, Instance.created_at)).all()
    if not rows:
        raise NotFound("No such series or instance in this study.")
    return list(rows)


def retrieve(ctx: RequestContext, study_uid: str, series_uid: str | None = None,
             sop_uid: str | None = None) -> flask.Response:
    """multipart/related; type="application/dicom": each instance with its original attributes."""
    accept = ctx.request.headers.get("Accept", "multipart/related; type=\"application/dicom\"")
    if "application/dicom" not in accept and "*/*" not in accept:
        raise ValidationFailed.field("Accept", 'only multipart/related; type="application/dicom" is offered',
                                     code="not_acceptable")
    study = _authorised(ctx, study_uid, "retrieve")
    instances = _instances(ctx, study, series_uid, sop_uid)
    key = study_key(study)
    boundary = uuid.uuid4().hex
    client = orthanc()
    work = [(i.orthanc_id, i.sop_uid, i.originals_enc) for i in instances]

    def body() -> Iterator[bytes]:
        for orthanc_id, uid, sealed in work:
            raw = client.request("GET", f"/instances/{orthanc_id}/file").content
            ds = pydicom.dcmread(io.BytesIO(raw))
            originals = json.loads(open_with_key(key, sealed, aad=f"{study.study_uid}/{uid}".encode()))
            pseudonyms.restore_dataset(ds, originals)
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            yield out.getvalue()
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return flask.Response(body(), content_type=f'multipart/related; type="application/dicom"; boundary={boundary}')


def _orthanc_accept(accept: str) -> str:
    """Wildcards a client may send (`type="*/*"`, `transfer-syntax=*`, as dicomweb-client does) mean
    "as stored", which is Orthanc's default; Orthanc 1.10 refuses the wildcards themselves."""
    accept = re.sub(r';\s*transfer-syntax="?\*"?', "", accept)
    return re.sub(r'type="?\*/\*"?', 'type="application/octet-stream"', accept)


def passthrough(ctx: RequestContext, study_uid: str, series_uid: str | None, sop_uid: str | None,
                suffix: str) -> flask.Response:
    """Frames, rendered and thumbnails: pixels only, streamed from Orthanc as they come."""
    study = _authorised(ctx, study_uid, suffix.split("/")[0])
    accept = _orthanc_accept(ctx.request.headers.get("Accept", "*/*"))
    params = [(k, v) for k, v in ctx.request.args.items(multi=True)
              if k in ("quality", "viewport", "window", "iccprofile")]
    resp = orthanc().request("GET", _orthanc_path(study, series_uid, sop_uid) + "/" + suffix,
                             headers={"Accept": accept}, params=params, stream=True)
    if resp.status_code == 404:
        resp.close()
        raise NotFound("No such instance or frame in this study.")
    headers = {h: resp.headers[h] for h in PASS_HEADERS if h in resp.headers}
    return flask.Response(resp.iter_content(STREAM_CHUNK), status=resp.status_code, headers=headers)
