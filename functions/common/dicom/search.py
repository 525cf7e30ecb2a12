"""Study search over the index, shared by QIDO-RS (gateway) and the portal's study list (studies).

Patient name and ID are matched through keyed blind indexes, so the search never decrypts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer

from functions.common.dicom.index import Study
from functions.common.platform.errors import ValidationFailed
from functions.common.security.blind_index import query_tokens
from functions.common.security.crypto import keyed_hash

SORTS = {
    "date": Study.study_date.desc().nulls_last(),
    "-date": Study.study_date.asc().nulls_first(),
    "uploaded": Study.created_at.desc(),
    "-uploaded": Study.created_at.asc(),
}


@dataclass(frozen=True)
class StudyFilter:
    patient_name: str | None = None
    patient_id: str | None = None
    modality: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    study_uids: tuple[str, ...] = ()


def parse_dicom_date_range(value: str, *, field: str) -> tuple[dt.date | None, dt.date | None]:
    """QIDO date matching: `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-` or `-YYYYMMDD` (dashes in dates allowed)."""
    def one(text: str) -> dt.date | None:
        text = text.strip().replace("-", "") if len(text.strip()) == 10 else text.strip()
        if not text:
            return None
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise ValidationFailed.field(field, "must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD") from None

    if len(value) == 10 and value[4] == "-" and value[7] == "-":  # an ISO date, not a range
        day = one(value)
        return day, day
    if "-" in value:
        start, end = value.split("-", 1)
        return one(start), one(end)
    day = one(value)
    return day, day


def apply(query: Select, f: StudyFilter) -> Select:
    if f.patient_name:
        try:
            tokens = query_tokens(f.patient_name)
        except ValueError as e:
            raise ValidationFailed.field("PatientName", str(e)) from None
        if tokens:
            query = query.where(Study.name_tokens.contains(tokens))
    if f.patient_id:
        query = query.where(Study.patient_id_hash == keyed_hash(f.patient_id.strip(), purpose="patient-id"))
    if f.modality:
        query = query.where(Study.modalities.contains([f.modality.upper()]))
    if f.date_from:
        query = query.where(Study.study_date >= f.date_from)
    if f.date_to:
        query = query.where(Study.study_date <= f.date_to)
    if f.study_uids:
        query = query.where(Study.study_uid.in_(f.study_uids))
    return query


def page(db: Session, query: Select, *, sort: str, limit: int, offset: int, with_total: bool) -> tuple[list[Study], int | None]:
    if sort not in SORTS:
        raise ValidationFailed.field("sort", "must be one of " + ", ".join(SORTS))
    if not 1 <= limit <= 1000 or offset < 0:
        raise ValidationFailed.field("limit", "limit must be 1–1000 and offset ≥ 0")
    total = db.scalar(select(func.count()).select_from(query.subquery())) if with_total else None
    rows = db.scalars(query.options(defer(Study.name_tokens))  # search-only column, never returned
                      .order_by(SORTS[sort], Study.id).limit(limit).offset(offset)).all()
    return list(rows), total
