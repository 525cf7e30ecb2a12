"""STOW-RS: validate, authorise, pseudonymise and store each instance, all or nothing per instance."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from functions.common import audit
from functions.common.authz import require_patient_data_access
from functions.common.blind_index import name_tokens
from functions.common.crypto import WrappedKey, envelope, keyed_hash, seal_with_key
from functions.common.errors import ApiError, UnsupportedMediaType
from functions.common.http import RequestContext
from functions.common.index import Instance, Patient, Series, Study
from functions.common.orthanc import orthanc
from functions.dicomweb import phi
from functions.dicomweb.multipart import boundary_of, iter_parts
from functions.dicomweb.validation import FailureReason, InstanceRejected, check_instance, parse_part10

log = logging.getLogger(__name__)



@dataclass
class StowResult:
    referenced: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    studies: set[str] = field(default_factory=set)

    def to_json(self, retrieve_base: str) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if len(self.studies) == 1:
            body["00081190"] = {"vr": "UR", "Value": [f"{retrieve_base}/studies/{next(iter(self.studies))}"]}
        if self.referenced:
            body["00081199"] = {"vr": "SQ", "Value": self.referenced}
        if self.failed:
            body["00081198"] = {"vr": "SQ", "Value": self.failed}
        return body


def _sop_item(sop_class: str | None, sop_uid: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if sop_class:
        item["00081150"] = {"vr": "UI", "Value": [sop_class]}
    if sop_uid:
        item["00081155"] = {"vr": "UI", "Value": [sop_uid]}
    return item


def store(ctx: RequestContext, path_study_uid: str | None) -> tuple[dict, int]:
    """Handle one STOW-RS request; per-instance outcomes as the standard's response dataset."""
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    request = ctx.request
    if request.headers.get("Content-Encoding"):
        raise UnsupportedMediaType("Compressed request bodies are refused; send the multipart body as is.")
    if request.mimetype != "multipart/related":
        raise UnsupportedMediaType('Send instances as multipart/related; type="application/dicom".')
    boundary, part_type = boundary_of(request.headers.get("Content-Type", ""))
    if part_type and part_type.lower() != "application/dicom":
        raise UnsupportedMediaType('Only type="application/dicom" is accepted (no metadata+bulkdata STOW).')
    result = StowResult()
    settings = ctx.settings
    for part in iter_parts(request.stream, boundary, max_part_bytes=settings.max_instance_bytes,
                           max_total_bytes=settings.max_stow_bytes):
        sop_class = sop_uid = None
        try:
            if part.data is None:
                raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"instance is larger than {settings.max_instance_bytes} bytes")
            ctype = part.headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
            if ctype != "application/dicom":
                raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"part has Content-Type {ctype}, not application/dicom")
            ds = parse_part10(part.data)
            sop_class, sop_uid = str(ds.get("SOPClassUID", "")) or None, str(ds.get("SOPInstanceUID", "")) or None
            check_instance(ds)
            if path_study_uid and ds.StudyInstanceUID != path_study_uid:
                raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, "StudyInstanceUID differs from the study in the URL")
            _store_one(ctx, ds)
            result.referenced.append({**_sop_item(sop_class, sop_uid), "00081190": {
                "vr": "UR", "Value": [f"{settings.public_url}/dicom-web/studies/{ds.StudyInstanceUID}/series/"
                                      f"{ds.SeriesInstanceUID}/instances/{sop_uid}"]}})
            result.studies.add(str(ds.StudyInstanceUID))
        except InstanceRejected as e:
            ctx.db.rollback()
            item = _sop_item(sop_class, sop_uid)
            item["00081197"] = {"vr": "US", "Value": [int(e.failure_reason)]}
            item["00000902"] = {"vr": "LO", "Value": [e.message[:64]]}  # ErrorComment: what was wrong
            result.failed.append(item)
            log.info("instance refused", extra={"reason": e.failure_reason})
    if not result.referenced and not result.failed:
        raise ApiError("The request carried no instances.", code="no_instances", status=400)
    status = 200 if not result.failed else (202 if result.referenced else 409)
    return result.to_json(f"{settings.public_url}/dicom-web"), status


def _study_key(ctx: RequestContext, study: Study) -> bytes:
    return envelope().unwrap(WrappedKey(study.key_kek_id, study.key_wrapped))


def _locked_study(ctx: RequestContext, ds: Dataset) -> Study:
    """The study row, created (with a fresh data key) if new, locked for this transaction."""
    principal = ctx.principal
    study_uid = str(ds.StudyInstanceUID)
    study = ctx.db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())
    if study is not None:
        if study.owner_id != principal.user_id:
            raise InstanceRejected(FailureReason.NOT_AUTHORIZED, "this StudyInstanceUID belongs to another user's study")
        return study
    pid_hash = keyed_hash(str(ds.get("PatientID", "")), purpose="patient-id")
    ctx.db.execute(insert(Patient).values(id=uuid.uuid4(), owner_id=principal.user_id, patient_id_hash=pid_hash)
                   .on_conflict_do_nothing())
    patient = ctx.db.scalar(select(Patient).where(Patient.owner_id == principal.user_id,
                                                  Patient.patient_id_hash == pid_hash))
    _, wrapped = envelope().new_data_key()
    ctx.db.execute(insert(Study).values(
        id=uuid.uuid4(), study_uid=study_uid, owner_id=principal.user_id, patient_pk=patient.id,
        patient_id_hash=pid_hash, name_tokens=name_tokens(str(ds.get("PatientName", ""))),
        study_date=_date(ds.get("StudyDate")), study_time=str(ds.get("StudyTime", ""))[:16] or None,
        modalities=[], description=str(ds.get("StudyDescription", ""))[:64] or None, num_series=0,
        num_instances=0, key_kek_id=wrapped.kek_id, key_wrapped=wrapped.wrapped,
    ).on_conflict_do_nothing())
    study = ctx.db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())
    if study.owner_id != principal.user_id:  # another user created it a moment ago
        raise InstanceRejected(FailureReason.NOT_AUTHORIZED, "this StudyInstanceUID belongs to another user's study")
    return study


def _store_one(ctx: RequestContext, ds: Dataset) -> None:
    study = _locked_study(ctx, ds)
    sop_uid = str(ds.SOPInstanceUID)
    existing = ctx.db.scalar(select(Instance).where(Instance.sop_uid == sop_uid))
    if existing is not None:
        series = ctx.db.get(Series, existing.series_pk)
        if series.study_pk != study.id:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, "this SOPInstanceUID is already stored in another study")
        ctx.db.commit()  # a retry of an instance already stored: success, nothing to do
        return
    key = _study_key(ctx, study)
    originals = phi.deidentify(ds)
    aad = f"{study.study_uid}/{sop_uid}".encode()
    sealed = seal_with_key(key, json.dumps(originals).encode(), aad=aad)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    series = _series(ctx, study, ds)
    orthanc_id = orthanc().store(data)
    try:
        ctx.db.add(Instance(id=uuid.uuid4(), sop_uid=sop_uid, series_pk=series.id, sop_class_uid=str(ds.SOPClassUID),
                            orthanc_id=orthanc_id, size=len(data), originals_enc=sealed))
        series.num_instances += 1
        study.num_instances += 1
        modality = str(ds.get("Modality", "")) or None
        if modality and modality not in study.modalities:
            study.modalities = sorted({*study.modalities, modality})
        if study.originals_enc is None:
            study.originals_enc = seal_with_key(key, json.dumps(originals).encode(), aad=study.study_uid.encode())
        audit.record(ctx.db, "study_store", actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                     target=f"study:{study.study_uid}", details={"sop_instance": sop_uid})
        ctx.db.commit()
    except Exception:
        ctx.db.rollback()
        orthanc().delete_instance(orthanc_id)  # no half-stored instance: undo the archive write
        raise


def _series(ctx: RequestContext, study: Study, ds: Dataset) -> Series:
    series_uid = str(ds.SeriesInstanceUID)
    series = ctx.db.scalar(select(Series).where(Series.series_uid == series_uid).with_for_update())
    if series is not None:
        if series.study_pk != study.id:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, "this SeriesInstanceUID belongs to another study")
        return series
    number = ds.get("SeriesNumber")
    series = Series(id=uuid.uuid4(), series_uid=series_uid, study_pk=study.id,
                    modality=str(ds.get("Modality", "")) or None,
                    series_number=int(number) if number not in (None, "") else None,
                    description=str(ds.get("SeriesDescription", ""))[:64] or None, num_instances=0)
    ctx.db.add(series)
    study.num_series += 1
    ctx.db.flush()
    return series


def _date(value: Any) -> dt.date | None:
    text = str(value or "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None
