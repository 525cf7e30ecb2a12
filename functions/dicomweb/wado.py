"""WADO-RS for studies the caller may read: metadata and instances with their originals restored;
frames, rendered images and thumbnails streamed from Orthanc unchanged (pixels carry no pseudonyms).

Every request is resolved through the index first: the study must be readable and hold the series and
instance named (else 404, before Orthanc is asked). A view is audited once per user, study, kind and
address per window (`audit.record_once`: one row for all workers together), after the archive answered:
the audit chain's lock is then held only until the request commits, never across a call to Orthanc.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pydicom
from pydicom.uid import JPEG2000, JPEG2000Lossless
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import Action, study_for
from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import ArchiveRefused, orthanc
from functions.common.platform.errors import NotFound, ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.dicomweb import archive
from functions.dicomweb.rendering import rendering

STREAM_CHUNK = 256 * 1024
PASS_HEADERS = ("Content-Type", "Content-Length")
AUDIT_WINDOW = 300.0  # seconds: a viewer fetching hundreds of frames is one access, not hundreds
DICOM_PARTS = 'multipart/related; type="application/dicom"'
FRAME_PARTS = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
NO_SUCH_PART = "No such series or instance in this study."


@dataclass
class Stream:
    """An answer to stream: status, headers and the body's chunks."""

    status: int
    headers: dict[str, str]
    chunks: Iterable[bytes]


def readable(db: Session, principal: Principal, study_uid: str, series_uid: str | None = None,
             sop_uid: str | None = None) -> Study:
    """The study if the caller may read it and it holds the series and instance named (else 404)."""
    return study_for(db, principal, study_uid, Action.READ, series_uid=series_uid, sop_uid=sop_uid)


def audit_view(db: Session, principal: Principal, study: Study, what: str, *, client_ip: str | None) -> None:
    """Record the view, once per window; called once the archive has answered (no call to it follows)."""
    audit.record_once(db, "study_view", window=AUDIT_WINDOW, actor_id=principal.user_id, client_ip=client_ip,
                      target=f"study:{study.study_uid}", details={"what": what})


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
    study = readable(db, principal, study_uid, series_uid, sop_uid)
    resp = archive.read(_orthanc_path(study, series_uid, sop_uid) + "/metadata", accept="application/dicom+json",
                        missing=NO_SUCH_PART)
    if not resp.content:
        raise NotFound(NO_SUCH_PART)
    items = resp.json()
    audit_view(db, principal, study, "metadata", client_ip=client_ip)
    return originals.restore_items(db, study, items)


def _instances(db: Session, study: Study, series_uid: str | None, sop_uid: str | None) -> list[Instance]:
    query = select(Instance).join(Series).where(Series.study_pk == study.id)
    if series_uid:
        query = query.where(Series.series_uid == series_uid)
    if sop_uid:
        query = query.where(Instance.sop_uid == sop_uid)
    rows = db.scalars(query.order_by(Series.series_number, Instance.created_at)).all()
    if not rows:
        raise NotFound(NO_SUCH_PART)
    return list(rows)


def _instance_file(orthanc_id: str) -> bytes:
    return archive.read(f"/instances/{orthanc_id}/file", accept="application/dicom", missing=NO_SUCH_PART).content


def retrieve(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None, *,
             accept: str | None, client_ip: str | None) -> Stream:
    """multipart/related; type="application/dicom": each instance with its original attributes.

    The first instance is read before the answer starts, so an archive that is down or refuses is a
    problem the client can act on; a failure later can only cut the stream short."""
    accept = accept or DICOM_PARTS
    if "application/dicom" not in accept and "*/*" not in accept:
        raise ValidationFailed.field("Accept", 'only multipart/related; type="application/dicom" is offered',
                                     code="not_acceptable")
    study = readable(db, principal, study_uid, series_uid, sop_uid)
    work = [(i.orthanc_id, i.sop_uid, i.originals_enc) for i in _instances(db, study, series_uid, sop_uid)]
    first = _instance_file(work[0][0])
    audit_view(db, principal, study, "retrieve", client_ip=client_ip)
    key = originals.study_key(study)
    boundary = uuid.uuid4().hex

    def body() -> Iterator[bytes]:
        for n, (orthanc_id, uid, sealed) in enumerate(work):
            ds = pydicom.dcmread(io.BytesIO(first if n == 0 else _instance_file(orthanc_id)))
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


# Frames of these stored syntaxes go out as stored (PS3.18's media type) to a client that takes any syntax: Orthanc
# 1.10 cannot decode JPEG 2000, so asked for the default explicit little endian it fails (an error, not a busy
# archive), while asked for the stored syntax by name it sends the frames untouched. The other syntaxes are still
# sent as Orthanc transcodes them (issue 13 moves them to "as stored" too, each checked in OHIF).
AS_STORED = {str(JPEG2000Lossless): "image/jp2", str(JPEG2000): "image/jp2"}
_ANY_SYNTAX = re.compile(r'transfer-syntax="?\*"?|type="?\*/\*"?')


def _as_stored(db: Session, study: Study, sop_uid: str | None, accept: str) -> str | None:
    """The Accept that asks Orthanc for an instance's frames in their stored syntax, when the client takes any
    syntax and the stored one is in AS_STORED; None otherwise."""
    if sop_uid is None or not _ANY_SYNTAX.search(accept):
        return None
    orthanc_id = db.scalar(select(Instance.orthanc_id).join(Series).where(Series.study_pk == study.id,
                                                                          Instance.sop_uid == sop_uid))
    if orthanc_id is None:
        return None
    try:
        stored = orthanc().read(f"/instances/{orthanc_id}/metadata/TransferSyntax").decode().strip()
    except ArchiveRefused:  # no such metadata: Orthanc's default answer then
        return None
    media = AS_STORED.get(stored)
    return f'multipart/related; type="{media}"; transfer-syntax={stored}' if media else None


def _no_frame_to_render() -> NotFound:
    return NotFound("No such frame to render: frames count from 1, and an instance without pixel data has none.")


def _frames_not_as_asked() -> ValidationFailed:
    return ValidationFailed.field("Accept", "the image archive cannot send these frames so: ask for frames the "
                                            f"instance has, as stored ({FRAME_PARTS})", code="not_acceptable")


def pixels(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None,
           suffix: str, *, accept: str, params: list[tuple[str, str]], client_ip: str | None) -> Stream:
    """Frames, rendered images and thumbnails: pixels only, streamed from Orthanc as they come."""
    kind, *rest = suffix.split("/")
    asked_accept = accept
    if suffix.endswith("rendered"):
        asked = rendering(accept, params, frames=rest[0] if kind == "frames" else None)
        accept, params, refused = asked.media_type, asked.params, _no_frame_to_render
    else:  # frames as they are stored: rendering parameters mean nothing here
        accept, params, refused = _orthanc_accept(accept), [], _frames_not_as_asked
    study = readable(db, principal, study_uid, series_uid, sop_uid)
    if kind == "frames" and not suffix.endswith("rendered"):
        accept = _as_stored(db, study, sop_uid, asked_accept) or accept
    resp = archive.read(_orthanc_path(study, series_uid, sop_uid) + "/" + suffix, accept=accept, params=params,
                        stream=True, missing="No such instance or frame in this study.", refused=refused)
    audit_view(db, principal, study, kind, client_ip=client_ip)
    headers = {h: resp.headers[h] for h in PASS_HEADERS if h in resp.headers}
    return Stream(resp.status_code, headers, resp.iter_content(STREAM_CHUNK))
