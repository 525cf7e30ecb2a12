"""Ingest: how one DICOM instance enters the platform, whichever door it came through (STOW-RS,
a zip import, the demo loader). Validation happens before; this stores, all or nothing."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

from pydicom import Dataset
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from functions.common import audit
from functions.common.blind_index import name_tokens
from functions.common.crypto import envelope, keyed_hash, seal_with_key
from functions.common.errors import ServiceUnavailable
from functions.common.index import Instance, Patient, Series, Study
from functions.common.orthanc import orthanc
from functions.common.pseudonyms import deidentify
from functions.common.study_query import study_key
from functions.common.validation import FailureReason, InstanceRejected


def _locked_study(db: Session, owner_id: uuid.UUID, ds: Dataset) -> Study:
    """The study row, created (with a fresh data key) if new, locked for this transaction."""
    study_uid = str(ds.StudyInstanceUID)
    study = db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())
    if study is not None:
        if study.owner_id != owner_id:
            raise InstanceRejected(FailureReason.NOT_AUTHORIZED, "this StudyInstanceUID belongs to another user's study")
        return study
    pid_hash = keyed_hash(str(ds.get("PatientID", "")), purpose="patient-id")
    db.execute(insert(Patient).values(id=uuid.uuid4(), owner_id=owner_id, patient_id_hash=pid_hash)
                   .on_conflict_do_nothing())
    patient = db.scalar(select(Patient).where(Patient.owner_id == owner_id,
                                                  Patient.patient_id_hash == pid_hash))
    _, wrapped = envelope().new_data_key()
    db.execute(insert(Study).values(
        id=uuid.uuid4(), study_uid=study_uid, owner_id=owner_id, patient_pk=patient.id,
        patient_id_hash=pid_hash, name_tokens=name_tokens(str(ds.get("PatientName", ""))),
        study_date=_date(ds.get("StudyDate")), study_time=str(ds.get("StudyTime", ""))[:16] or None,
        modalities=[], description=str(ds.get("StudyDescription", ""))[:64] or None, num_series=0,
        num_instances=0, key_kek_id=wrapped.kek_id, key_wrapped=wrapped.wrapped,
    ).on_conflict_do_nothing())
    study = db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())
    if study.owner_id != owner_id:  # another user created it a moment ago
        raise InstanceRejected(FailureReason.NOT_AUTHORIZED, "this StudyInstanceUID belongs to another user's study")
    return study


def store_dataset(db: Session, *, owner_id: uuid.UUID, ds: Dataset) -> str:
    """Store one validated instance for `owner_id`: pseudonymise, seal the originals, archive, index.

    All or nothing: on any failure the archive write is undone and the transaction rolled back.
    Returns the StudyInstanceUID. Raises InstanceRejected for what the sender must fix. The caller
    writes the audit record (one per study and request, see `audit_stored`).
    """
    study = _locked_study(db, owner_id, ds)
    sop_uid = str(ds.SOPInstanceUID)
    existing = db.scalar(select(Instance).where(Instance.sop_uid == sop_uid))
    if existing is not None:
        series = db.get(Series, existing.series_pk)
        if series.study_pk != study.id:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, "this SOPInstanceUID is already stored in another study")
        db.commit()  # a retry of an instance already stored: success, nothing to do
        return study.study_uid
    key = study_key(study)
    originals = deidentify(ds)
    aad = f"{study.study_uid}/{sop_uid}".encode()
    sealed = seal_with_key(key, json.dumps(originals).encode(), aad=aad)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    series = _series(db, study, ds)
    try:
        orthanc_id = orthanc().store(data)
    except ServiceUnavailable as e:  # the archive is down or refused it: this instance fails, cleanly
        raise InstanceRejected(FailureReason.PROCESSING_FAILURE, "the image archive could not store the "
                               "instance; nothing was kept, try again") from e
    try:
        db.add(Instance(id=uuid.uuid4(), sop_uid=sop_uid, series_pk=series.id, sop_class_uid=str(ds.SOPClassUID),
                            orthanc_id=orthanc_id, size=len(data), originals_enc=sealed))
        series.num_instances += 1
        study.num_instances += 1
        modality = str(ds.get("Modality", "")) or None
        if modality and modality not in study.modalities:
            study.modalities = sorted({*study.modalities, modality})
        if study.originals_enc is None:
            study.originals_enc = seal_with_key(key, json.dumps(originals).encode(), aad=study.study_uid.encode())
        db.commit()
    except Exception:
        db.rollback()
        orthanc().delete_instance(orthanc_id)  # no half-stored instance: undo the archive write
        raise
    return study.study_uid


def _series(db: Session, study: Study, ds: Dataset) -> Series:
    series_uid = str(ds.SeriesInstanceUID)
    series = db.scalar(select(Series).where(Series.series_uid == series_uid).with_for_update())
    if series is not None:
        if series.study_pk != study.id:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, "this SeriesInstanceUID belongs to another study")
        return series
    number = ds.get("SeriesNumber")
    series = Series(id=uuid.uuid4(), series_uid=series_uid, study_pk=study.id,
                    modality=str(ds.get("Modality", "")) or None,
                    series_number=int(number) if number not in (None, "") else None,
                    description=str(ds.get("SeriesDescription", ""))[:64] or None, num_instances=0)
    db.add(series)
    study.num_series += 1
    db.flush()
    return series


def _date(value: Any) -> dt.date | None:
    text = str(value or "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


def audit_stored(db: Session, *, owner_id: uuid.UUID, client_ip: str | None, counts: dict[str, int]) -> None:
    """One audit record per study that received instances in one request (not one per instance)."""
    for study_uid, count in counts.items():
        audit.record(db, "study_store", actor_id=owner_id, client_ip=client_ip, target=f"study:{study_uid}",
                     details={"instances": count})
