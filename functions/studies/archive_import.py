"""Import a zip of DICOM files: the archive is checked whole before anything is stored
(zip bombs, path traversal, corruption), then each file goes through the same ingest as STOW."""

from __future__ import annotations

import logging
import posixpath
import tempfile
import zipfile
import zlib
from typing import IO

import flask
from sqlalchemy.orm import Session

from functions.common.access.policy import may_store
from functions.common.dicom.ingest import Ingest, audit_stored
from functions.common.dicom.syntaxes import MAX_DEFLATE_RATIO
from functions.common.dicom.validation import InstanceRejected, check_instance, parse_part10
from functions.common.platform.config import get_settings
from functions.common.platform.errors import LengthRequired, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from functions.common.security.tokens import Principal

log = logging.getLogger(__name__)

MAX_ENTRIES = 20_000
MAX_RATIO = MAX_DEFLATE_RATIO  # uncompressed / compressed, per file: DICOM compresses far less than this
SKIPPED = ("__MACOSX/",)
SKIPPED_NAMES = {"DICOMDIR", ".DS_Store", "Thumbs.db"}


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(f"The archive was refused and nothing was stored: {message}.", code="bad_archive",
                            errors=[{"field": "archive", "message": message}])


def spooled(request: flask.Request, limit: int) -> IO[bytes]:
    """The request body in a spooled temporary file (memory up to 64 MB, then disk), at most `limit` bytes."""
    if request.mimetype not in ("application/zip", "application/x-zip-compressed"):
        raise UnsupportedMediaType("Send the archive as application/zip.")
    length = request.content_length
    if length is None:
        raise LengthRequired("Send a Content-Length header with the archive.")
    if length > limit:
        raise PayloadTooLarge(f"The archive is larger than {limit} bytes.")
    spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
    copied = 0
    while chunk := request.stream.read(1 << 20):
        copied += len(chunk)
        if copied > limit:
            spool.close()
            raise PayloadTooLarge(f"The archive is larger than {limit} bytes.")
        spool.write(chunk)
    spool.seek(0)
    return spool


def _members(archive: zipfile.ZipFile, *, max_file: int, max_total: int) -> list[zipfile.ZipInfo]:
    """The files to import, after checking every entry of the archive."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _bad(f"it has more than {MAX_ENTRIES} entries")
    members, total = [], 0
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            raise _bad(f"the entry name {name!r} points outside the archive")
        if info.is_dir() or name.startswith(SKIPPED) or posixpath.basename(name) in SKIPPED_NAMES:
            continue
        if info.flag_bits & 0x1:
            raise _bad(f"{name!r} is encrypted")
        if info.file_size > max_file:
            raise _bad(f"{name!r} is larger than {max_file} bytes")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise _bad(f"{name!r} expands more than {MAX_RATIO}× (a zip bomb?)")
        total += info.file_size
        if total > max_total:
            raise _bad(f"its contents are larger than {max_total} bytes")
        members.append(info)
    if not members:
        raise _bad("it contains no files")
    return members


def import_zip(db: Session, principal: Principal, spool: IO[bytes], *, client_ip: str | None) -> dict:
    """Check the whole archive, then store each file as STOW would; what was stored and what failed, per file."""
    settings = get_settings()
    try:
        archive = zipfile.ZipFile(spool)
        members = _members(archive, max_file=settings.max_instance_bytes, max_total=settings.max_stow_bytes)
        bad = archive.testzip()  # reads every member: CRCs and real sizes, before anything is stored
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _bad(f"it is not a readable zip file ({e})") from None
    if bad is not None:
        raise _bad(f"{bad!r} is corrupt")
    stored, failed = [], []
    with Ingest(db, principal.user_id, may_store=may_store(principal)) as ingest:
        for info in members:
            with archive.open(info) as f:
                data = f.read(info.file_size + 1)
            try:
                if len(data) != info.file_size:
                    raise InstanceRejected(0xA700, "the file's real size differs from the archive's listing")
                ds = parse_part10(data)
                check_instance(ds)
            except InstanceRejected as e:
                failed.append({"file": info.filename, "reason_code": int(e.failure_reason), "message": e.message})
                continue
            ingest.add(ds, tag=info.filename)
        outcomes = ingest.finish()
    for o in outcomes:
        if o.error is None:
            stored.append({"file": o.tag, "study_uid": o.study_uid, "sop_instance_uid": o.sop_uid})
        else:
            failed.append({"file": o.tag, "reason_code": int(o.error.failure_reason), "message": o.error.message})
    audit_stored(db, actor_id=principal.user_id, client_ip=client_ip, outcomes=outcomes)
    log.info("archive imported", extra={"stored": len(stored), "failed": len(failed)})
    return {"stored": stored, "failed": failed}
