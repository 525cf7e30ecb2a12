"""STOW-RS: validate, authorise, pseudonymise and store each instance, all or nothing per instance.

An instance the archive could not take because it was busy or down fails with a comment saying to retry,
and the answer carries Retry-After; when nothing was stored for that reason alone, the whole request is
a 503 (`ArchiveUnavailable`), as for any other call to an archive that is down."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import flask
from pydicom import Dataset
from sqlalchemy.orm import Session

from functions.common.access.policy import may_store
from functions.common.dicom.ingest import Ingest, audit_stored
from functions.common.dicom.orthanc import RETRY_AFTER, ArchiveUnavailable
from functions.common.dicom.validation import FailureReason, InstanceRejected, check_instance, parse_part10
from functions.common.platform.config import Settings, get_settings
from functions.common.platform.errors import ApiError, UnsupportedMediaType
from functions.common.security.tokens import Principal
from functions.dicomweb.multipart import Part, boundary_of, iter_parts

log = logging.getLogger(__name__)


@dataclass
class StowResult:
    referenced: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    studies: set[str] = field(default_factory=set)
    to_retry: int = 0  # failed only because the archive was busy or down

    def to_json(self, retrieve_base: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if len(self.studies) == 1:
            body["00081190"] = {"vr": "UR", "Value": [f"{retrieve_base}/studies/{next(iter(self.studies))}"]}
        if self.referenced:
            body["00081199"] = {"vr": "SQ", "Value": self.referenced}
        if self.failed:
            body["00081198"] = {"vr": "SQ", "Value": self.failed}
        return body

    def fail(self, sop_class: str | None, sop_uid: str | None, error: InstanceRejected) -> None:
        item = _sop_item(sop_class, sop_uid)
        item["00081197"] = {"vr": "US", "Value": [int(error.failure_reason)]}
        item["00000902"] = {"vr": "LO", "Value": [_short(error.message)]}  # ErrorComment: what was wrong
        self.failed.append(item)
        self.to_retry += error.retry
        log.info("instance refused", extra={"reason": error.failure_reason})


def _sop_item(sop_class: str | None, sop_uid: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if sop_class:
        item["00081150"] = {"vr": "UI", "Value": [sop_class]}
    if sop_uid:
        item["00081155"] = {"vr": "UI", "Value": [sop_uid]}
    return item


def request_parts(request: flask.Request, settings: Settings) -> Iterator[Part]:
    """The instances of a STOW-RS request body, streamed; refuses what is not multipart/related DICOM."""
    if request.headers.get("Content-Encoding"):
        raise UnsupportedMediaType("Compressed request bodies are refused; send the multipart body as is.")
    if request.mimetype != "multipart/related":
        raise UnsupportedMediaType('Send instances as multipart/related; type="application/dicom".')
    boundary, part_type = boundary_of(request.headers.get("Content-Type", ""))
    if part_type and part_type.lower() != "application/dicom":
        raise UnsupportedMediaType('Only type="application/dicom" is accepted (no metadata+bulkdata STOW).')
    return iter_parts(request.stream, boundary, max_part_bytes=settings.max_instance_bytes,
                      max_total_bytes=settings.max_stow_bytes)


def _parsed(part: Part, max_instance_bytes: int) -> Dataset:
    """One part as a parsed instance."""
    if part.data is None:
        raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"instance is larger than {max_instance_bytes} bytes")
    ctype = part.headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
    if ctype != "application/dicom":
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"part has Content-Type {ctype}, not application/dicom")
    return parse_part10(part.data)


def _sop_of(ds: Dataset | None) -> tuple[str | None, str | None]:
    """SOP Class and Instance UIDs of a parsed instance, for its failure item."""
    if ds is None:
        return None, None
    return str(ds.get("SOPClassUID", "")) or None, str(ds.get("SOPInstanceUID", "")) or None


def _check(ds: Dataset, study_uid: str | None) -> None:
    """The instance is safe to store, and of the study in the URL if one is named."""
    check_instance(ds)
    if study_uid and ds.StudyInstanceUID != study_uid:
        raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS,
                               "StudyInstanceUID differs from the study in the URL")


def store(db: Session, principal: Principal, parts: Iterable[Part], *, study_uid: str | None,
          client_ip: str | None) -> tuple[dict, int, dict[str, str]]:
    """Store the instances of one STOW-RS request: per-instance outcomes as the standard's response dataset,
    its status and headers."""
    settings = get_settings()
    result = StowResult()
    with Ingest(db, principal.user_id, may_store=may_store(principal)) as ingest:
        for part in parts:
            ds = None
            try:
                ds = _parsed(part, settings.max_instance_bytes)
                _check(ds, study_uid)
            except InstanceRejected as e:
                result.fail(*_sop_of(ds), e)
                continue
            ingest.add(ds)
        outcomes = ingest.finish()
    for o in outcomes:
        if o.error is not None:
            result.fail(o.sop_class_uid, o.sop_uid, o.error)
            continue
        result.referenced.append({**_sop_item(o.sop_class_uid, o.sop_uid), "00081190": {
            "vr": "UR", "Value": [f"{settings.public_url}/dicom-web/studies/{o.study_uid}/series/"
                                  f"{o.series_uid}/instances/{o.sop_uid}"]}})
        result.studies.add(o.study_uid)
    audit_stored(db, actor_id=principal.user_id, client_ip=client_ip, outcomes=outcomes)
    if not result.referenced and not result.failed:
        raise ApiError("The request carried no instances.", code="no_instances", status=400)
    if not result.referenced and result.to_retry == len(result.failed):
        raise ArchiveUnavailable()
    status = 200 if not result.failed else (202 if result.referenced else 409)
    headers = {"Retry-After": str(RETRY_AFTER)} if result.to_retry else {}
    return result.to_json(f"{settings.public_url}/dicom-web"), status, headers


def _short(message: str, limit: int = 64) -> str:
    """ErrorComment is LO (64 characters): cut at a word, never mid-word."""
    if len(message) <= limit:
        return message
    return message[: limit - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."
