"""WADO-RS for studies the caller may read: metadata and instances with their originals restored;
frames, rendered images and thumbnails streamed from Orthanc unchanged (pixels carry no pseudonyms).

Access is checked on every request; a view is audited once per user, study, kind and address per
window (`audit.record_once`: one row for all workers together).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pydicom
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import Action, study_for
from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import orthanc
from functions.common.platform.errors import NotFound, ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal

STREAM_CHUNK = 256 * 1024
PASS_HEADERS = ("Content-Type", "Content-Length")
AUDIT_WINDOW = 300.0  # seconds: a viewer fetching hundreds of frames is one access, not hundreds
DICOM_PARTS = 'multipart/related; type="application/dicom"'


@dataclass
class Stream:
    """An answer to stream: status, headers and the body's chunks."""

    status: int
    headers: dict[str, str]
    chunks: Iterable[bytes]


def readable_study(db: Session, principal: Principal, study_uid: str, what: str, *, client_ip: str | None) -> Study:
    """The study if the caller may read it (else 404), its view audited once per window."""
    study = study_for(db, principal, study_uid, Action.READ)
    audit.record_once(db, "study_view", window=AUDIT_WINDOW, actor_id=principal.user_id, client_ip=client_ip,
                      target=f"study:{study.study_uid}", details={"what": what})
    return study


def _orthanc_path(study: Study, series_uid: str | None, sop_uid: str | None) -> str:
    path = f"/dicom-web/studies/{study.study_uid}"
    if series_uid:
        path += f"/series/{series_uid}"
    if sop_uid:
        path += f"/instances/{sop_uid}"
    return path


def metadata(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None, *,
             client_ip: str | None) -> list[dict]:
    """DICOM JSON of every instance at the level asked, with original attributes."""
    study = readable_study(db, principal, study_uid, "metadata", client_ip=client_ip)
    resp = orthanc().request("GET", _orthanc_path(study, series_uid, sop_uid) + "/metadata",
                             headers={"Accept": "application/dicom+json"})
    if resp.status_code == 404 or not resp.content:
        raise NotFound("No such series or instance in this study.")
    return originals.restore_items(db, study, resp.json())


def _instances(db: Session, study: Study, series_uid: str | None, sop_uid: str | None) -> list[Instance]:
    query = select(Instance).join(Series).where(Series.study_pk == study.id)
    if series_uid:
        query = query.where(Series.series_uid == series_uid)
    if sop_uid:
        query = query.where(Instance.sop_uid == sop_uid)
    rows = db.scalars(query.order_by(Series.series_number, Instance.created_at)).all()
    if not rows:
        raise NotFound("No such series or instance in this study.")
    return list(rows)


def retrieve(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None, *,
             accept: str | None, client_ip: str | None) -> Stream:
    """multipart/related; type="application/dicom": each instance with its original attributes."""
    accept = accept or DICOM_PARTS
    if "application/dicom" not in accept and "*/*" not in accept:
        raise ValidationFailed.field("Accept", 'only multipart/related; type="application/dicom" is offered',
                                     code="not_acceptable")
    study = readable_study(db, principal, study_uid, "retrieve", client_ip=client_ip)
    instances = _instances(db, study, series_uid, sop_uid)
    key = originals.study_key(study)
    boundary = uuid.uuid4().hex
    client = orthanc()
    work = [(i.orthanc_id, i.sop_uid, i.originals_enc) for i in instances]

    def body() -> Iterator[bytes]:
        for orthanc_id, uid, sealed in work:
            ds = pydicom.dcmread(io.BytesIO(client.request("GET", f"/instances/{orthanc_id}/file").content))
            originals.restore_dataset(ds, originals.open_sealed(key, sealed, study_uid=study.study_uid, sop_uid=uid))
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            yield f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            yield out.getvalue()
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return Stream(200, {"Content-Type": f"{DICOM_PARTS}; boundary={boundary}"}, body())


def _orthanc_accept(accept: str) -> str:
    """Wildcards a client may send (`type="*/*"`, `transfer-syntax=*`, as dicomweb-client does) mean
    "as stored", which is Orthanc's default; Orthanc 1.10 refuses the wildcards themselves."""
    accept = re.sub(r';\s*transfer-syntax="?\*"?', "", accept)
    return re.sub(r'type="?\*/\*"?', 'type="application/octet-stream"', accept)


def pixels(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None,
           suffix: str, *, accept: str, params: list[tuple[str, str]], client_ip: str | None) -> Stream:
    """Frames, rendered images and thumbnails: pixels only, streamed from Orthanc as they come."""
    study = readable_study(db, principal, study_uid, suffix.split("/")[0], client_ip=client_ip)
    params = [(k, v) for k, v in params if k in ("quality", "viewport", "window", "iccprofile")]
    resp = orthanc().request("GET", _orthanc_path(study, series_uid, sop_uid) + "/" + suffix,
                             headers={"Accept": _orthanc_accept(accept)}, params=params, stream=True)
    if resp.status_code == 404:
        resp.close()
        raise NotFound("No such instance or frame in this study.")
    headers = {h: resp.headers[h] for h in PASS_HEADERS if h in resp.headers}
    return Stream(resp.status_code, headers, resp.iter_content(STREAM_CHUNK))
