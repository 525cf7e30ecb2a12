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
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pydicom
from pydicom.encaps import generate_fragments
from pydicom.uid import HTJ2K, UID, ExplicitVRLittleEndian, HTJ2KLossless, HTJ2KLosslessRPCL
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.access.policy import Action, study_for
from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import ArchiveRefused, orthanc
from functions.common.dicom.syntaxes import FRAME_MEDIA_TYPES, VIDEO_TRANSFER_SYNTAXES
from functions.common.platform.errors import NotAcceptable, NotFound, ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.dicomweb import archive, decoding
from functions.dicomweb.rendering import rendering

STREAM_CHUNK = 256 * 1024
FRAME_GZIP_LEVEL = 1
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

    def restored() -> Iterator[bytes]:
        for n, (orthanc_id, uid, sealed) in enumerate(work):
            ds = pydicom.dcmread(io.BytesIO(first if n == 0 else _instance_file(orthanc_id)))
            originals.restore_dataset(ds, originals.open_sealed(key, sealed, study_uid=study.study_uid, sop_uid=uid))
            out = io.BytesIO()
            ds.save_as(out, enforce_file_format=True)
            yield out.getvalue()

    return _multipart("application/dicom", restored())


def _orthanc_accept(accept: str) -> str:
    """Wildcards a client may send (`type="*/*"`, `transfer-syntax=*`, as dicomweb-client does) mean
    "as stored", which is Orthanc's default; Orthanc 1.10 refuses the wildcards themselves."""
    accept = re.sub(r';\s*transfer-syntax="?\*"?', "", accept)
    return re.sub(r'type="?\*/\*"?', 'type="application/octet-stream"', accept)


# Frames of an encapsulated syntax go out as stored, in PS3.18's media type (syntaxes.FRAME_MEDIA_TYPES), to a client
# that takes any syntax (`transfer-syntax=*`, `type="*/*"`: OHIF and dicomweb-client by default): nothing is
# decoded, and Orthanc 1.10 could not decode JPEG 2000 or HTJ2K anyway.
AS_STORED = {syntax: media for syntax, media in FRAME_MEDIA_TYPES.items() if UID(syntax).is_encapsulated}
# Orthanc's DICOMweb plugin sends these as stored when asked for them by name. HTJ2K frames are cut from the file by
# Orthanc's /frames/{n}/raw and put into parts here; a video's "frame" is its whole stream (PS3.18 8.7.3.3.2), read
# from the file here.
HTJ2K_SYNTAXES = frozenset({str(HTJ2KLossless), str(HTJ2KLosslessRPCL), str(HTJ2K)})
ORTHANC_AS_STORED = frozenset(AS_STORED) - HTJ2K_SYNTAXES - VIDEO_TRANSFER_SYNTAXES
NATIVE = str(ExplicitVRLittleEndian)
_ANY_SYNTAX = re.compile(r'transfer-syntax="?\*"?|type="?\*/\*"?')
_SYNTAX_ASKED = re.compile(r'transfer-syntax="?([0-9.]+)"?')


@dataclass(frozen=True)
class Stored:
    """The archive's copy of one instance: its Orthanc id and stored transfer syntax."""

    orthanc_id: str
    transfer_syntax: str | None


def _stored(db: Session, study: Study, series_uid: str | None, sop_uid: str | None) -> Stored | None:
    """The instance a pixel request is about (a series' rendered image and thumbnail: its first instance), with
    its stored syntax from the index (one row by a unique UID); only an instance indexed before the syntax was
    recorded (migration 0011) makes the archive be asked. None for a study-level request."""
    if series_uid is None:
        return None
    query = select(Instance.orthanc_id, Instance.transfer_syntax).join(Series).where(Series.study_pk == study.id)
    query = (query.where(Instance.sop_uid == sop_uid) if sop_uid else
             query.where(Series.series_uid == series_uid).order_by(Instance.created_at).limit(1))
    row = db.execute(query).first()
    if row is None:
        return None
    return Stored(row.orthanc_id, row.transfer_syntax or _archived_syntax(row.orthanc_id))


def _archived_syntax(orthanc_id: str) -> str | None:
    try:
        return orthanc().read(f"/instances/{orthanc_id}/metadata/TransferSyntax").decode().strip()
    except ArchiveRefused:  # no such metadata: Orthanc's default answer then
        return None


def _frame_numbers(text: str) -> list[int]:
    numbers = [int(n) for n in text.split(",")]  # the route's converter took only digits and commas
    if any(n < 1 for n in numbers):
        raise NotFound("No such frame: frames count from 1.")
    return numbers


def _multipart(media_type: str, parts: Iterable[bytes], *, syntax: str | None = None) -> Stream:
    """multipart/related of `media_type` parts (each with its length), streamed as the parts come; `syntax` names the
    transfer syntax of frames (instances carry their own)."""
    boundary = uuid.uuid4().hex
    typed = f"{media_type}; transfer-syntax={syntax}" if syntax else media_type

    def body() -> Iterator[bytes]:
        for part in parts:
            yield f"--{boundary}\r\nContent-Type: {typed}\r\nContent-Length: {len(part)}\r\n\r\n".encode()
            yield part
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    syntax_param = f"; transfer-syntax={syntax}" if syntax else ""
    return Stream(200, {"Content-Type": f'multipart/related; type="{media_type}"{syntax_param}; boundary={boundary}'},
                  body())


def _no_frame_to_render() -> NotFound:
    return NotFound("No such frame to render: frames count from 1, and an instance without pixel data has none.")


def compressible(answer: Stream) -> bool:
    """Native frames (uncompressed pixels, half or more of a CT frame's bytes are redundant) are worth gzipping for a
    client that accepts it: over a hospital link they are the bulk of a viewer's bytes. Compressed syntaxes, rendered
    images and DICOM instances are sent as they are."""
    media = answer.headers.get("Content-Type", "")
    return answer.status == 200 and media.startswith("multipart/related") and "application/octet-stream" in media \
        and "Content-Encoding" not in answer.headers


def gzipped(answer: Stream) -> Stream:
    """The answer gzipped as it streams (level 1: about 10 ms and 2x smaller for a 512x512 CT frame); the pixels
    themselves are unchanged, only the transfer is encoded (the viewer's HTTP stack inflates it)."""
    def chunks() -> Iterator[bytes]:
        encoder = zlib.compressobj(FRAME_GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip wrapper
        for chunk in answer.chunks:
            if out := encoder.compress(chunk):
                yield out
        yield encoder.flush()

    headers = {k: v for k, v in answer.headers.items() if k != "Content-Length"}
    return Stream(answer.status, {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, chunks())


def _no_such_frame() -> NotFound:
    return NotFound("No such frame: frames count from 1 to the instance's NumberOfFrames.")


def _frames_not_as_asked() -> NotAcceptable:
    return NotAcceptable.field("Accept", "the image archive cannot send these frames so: ask for frames the "
                                            f"instance has, as stored ({FRAME_PARTS})")


def pixels(db: Session, principal: Principal, study_uid: str, series_uid: str | None, sop_uid: str | None,
           suffix: str, *, accept: str, params: list[tuple[str, str]], client_ip: str | None) -> Stream:
    """Frames, rendered images and thumbnails: streamed from Orthanc as they come where it can make them, else
    made here (frames of a syntax its plugin does not know, images of a syntax it cannot decode)."""
    kind, *rest = suffix.split("/")
    rendered = suffix.endswith("rendered")
    if rendered:
        asked = rendering(accept, params, frames=rest[0] if kind == "frames" else None)
        orthanc_accept, params, refused = asked.media_type, asked.params, _no_frame_to_render
    else:  # frames as they are stored: rendering parameters mean nothing here
        orthanc_accept, params, refused = _orthanc_accept(accept), [], _frames_not_as_asked
    study = readable(db, principal, study_uid, series_uid, sop_uid)
    stored = _stored(db, study, series_uid, sop_uid)
    syntax = stored.transfer_syntax if stored else None
    local: Stream | None = None
    if rendered and decoding.rendered_here(syntax):
        number = int(rest[0]) if kind == "frames" else 1
        image = decoding.render(_decodable(stored), number, media_type=asked.media_type, params=asked.params)
        local = Stream(200, {"Content-Type": asked.media_type, "Content-Length": str(len(image))}, [image])
    elif kind == "frames" and not rendered and syntax in AS_STORED:
        local, orthanc_accept = _encapsulated_frames(stored, _frame_numbers(rest[0]), accept, orthanc_accept)
    if kind == "frames" and not rendered and (_ANY_SYNTAX.search(accept) or syntax and syntax in orthanc_accept):
        refused = _no_such_frame  # asked as stored, Orthanc's 400 can only mean a frame the instance lacks
    if local is not None:
        audit_view(db, principal, study, kind, client_ip=client_ip)
        return local
    resp = archive.read(_orthanc_path(study, series_uid, sop_uid) + "/" + suffix, accept=orthanc_accept,
                        params=params, stream=True, missing="No such instance or frame in this study.",
                        refused=refused)
    audit_view(db, principal, study, kind, client_ip=client_ip)
    headers = {h: resp.headers[h] for h in PASS_HEADERS if h in resp.headers}
    return Stream(resp.status_code, headers, resp.iter_content(STREAM_CHUNK))


def _encapsulated_frames(stored: Stored, numbers: list[int], accept: str,
                         orthanc_accept: str) -> tuple[Stream | None, str]:
    """Frames of an instance stored compressed: as stored to a client that takes any syntax or asks for the
    stored one (Orthanc's plugin sends them, or the gateway cuts them from the file), decoded here to native
    when the client asks for that and Orthanc cannot decode the syntax; a syntax nobody here can make is 406.
    Returns a stream made here, or None and the Accept to ask Orthanc with."""
    syntax = stored.transfer_syntax or ""
    named = _SYNTAX_ASKED.search(accept)
    wanted = named.group(1) if named else (None if _ANY_SYNTAX.search(accept) else NATIVE)
    if wanted in (None, syntax):
        if syntax in ORTHANC_AS_STORED:
            return None, f'multipart/related; type="{AS_STORED[syntax]}"; transfer-syntax={syntax}'
        if syntax in VIDEO_TRANSFER_SYNTAXES:
            ds = _decodable(stored)
            if max(numbers) > decoding.frame_count(ds):
                raise _no_such_frame()
            whole = [b"".join(generate_fragments(ds.PixelData))]
            return _multipart(AS_STORED[syntax], whole, syntax=syntax), orthanc_accept
        parts = [archive.read(f"/instances/{stored.orthanc_id}/frames/{n - 1}/raw", accept="*/*",
                              missing="No such frame: frames count from 1.").content for n in numbers]
        return _multipart(AS_STORED[syntax], parts, syntax=syntax), orthanc_accept
    if not decoding.decoded_here(syntax):
        return None, orthanc_accept  # Orthanc decodes it (JPEG, JPEG-LS, RLE) into what was asked, or says 400
    if wanted == NATIVE:
        return _multipart("application/octet-stream", decoding.native_frames(_decodable(stored), numbers),
                          syntax=NATIVE), orthanc_accept
    raise NotAcceptable.field("Accept", f"these frames are stored as {UID(syntax).name}: ask for them as stored "
                                        f"(transfer-syntax={syntax} or *) or as application/octet-stream (explicit "
                                        "VR little endian)")


def _decodable(stored: Stored):
    return decoding.instance(archive.read(f"/instances/{stored.orthanc_id}/file", accept="application/dicom",
                                          missing=NO_SUCH_PART).content)
