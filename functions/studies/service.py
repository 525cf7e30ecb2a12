"""The portal's study list (from the index, filtered in SQL) and study deletion with crypto-shredding."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from functions.common.access.policy import Action, access_to_studies, study_access, study_for, study_sources
from functions.common.accounts.tables import User
from functions.common.dicom import originals
from functions.common.dicom.index import Study
from functions.common.dicom.orthanc import orthanc
from functions.common.dicom.search import StudyFilter, original_date, search
from functions.common.platform.errors import ValidationFailed
from functions.common.security import audit, passwords
from functions.common.security.tokens import Principal

ORIGINAL_FIELDS = {"patient_name": "PatientName", "patient_id": "PatientID", "patient_birth_date": "PatientBirthDate",
                   "accession_number": "AccessionNumber", "referring_physician": "ReferringPhysicianName"}


def summary(study: Study, *, access: str, owner_name: str | None) -> dict:
    """A study for the portal: the index's counts and its date unshifted, the rest from the sealed originals."""
    orig = originals.of_study(study)
    day = original_date(study)
    return {
        "access": access, "owner": {"name": owner_name},
        "study_uid": study.study_uid,
        **{name: originals.keyword_value(orig, keyword) for name, keyword in ORIGINAL_FIELDS.items()},
        "study_date": day.isoformat() if day else None,
        "modalities": list(study.modalities), "description": originals.keyword_value(orig, "StudyDescription"),
        "num_series": study.num_series, "num_instances": study.num_instances,
        "uploaded_at": study.created_at.isoformat() if study.created_at else None,
        "burned_in": study.burned_in,
    }


def date_arg(args, name: str) -> dt.date | None:
    """An ISO date from the query string, or None."""
    raw = args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.field(name, "must be a date such as 2026-01-31") from None


def list_studies(db: Session, principal: Principal, f: StudyFilter, *, scope: str, sort: str, limit: int,
                 offset: int, client_ip: str | None, cursor: str | None = None) -> dict:
    """One page of the studies the caller may see (`scope`: all, mine, shared), with the total (exact when
    `total_exact`, else an estimate: see `search.search`) and the next page's cursor."""
    found = search(db, study_sources(db, principal, scope), f, sort=sort, limit=limit, offset=offset, cursor=cursor,
                   with_total=True)
    studies = found.studies
    audit.record(db, "study_list", actor_id=principal.user_id, client_ip=client_ip,
                 details={"results": len(studies), "scope": scope})
    access = access_to_studies(db, principal, studies)
    owners = {s.owner_id for s in studies}
    names = dict(db.execute(select(User.id, User.name).where(User.id.in_(owners))).all()) if owners else {}
    return {"items": [summary(s, access=access[s.id], owner_name=names.get(s.owner_id)) for s in studies],
            "total": found.total, "total_exact": found.total_exact, "next_cursor": found.next_cursor}


def get_study(db: Session, principal: Principal, study_uid: str, *, client_ip: str | None) -> dict:
    study = study_for(db, principal, study_uid, Action.READ)
    audit.record(db, "study_view", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"study:{study.study_uid}", details={"what": "summary"})
    owner_name = db.scalar(select(User.name).where(User.id == study.owner_id))
    return summary(study, access=study_access(db, principal, study), owner_name=owner_name)


def delete_study(db: Session, principal: Principal, study_uid: str, *, password: str, client_ip: str) -> None:
    """Remove the study from the archive and the index; dropping its row destroys its data key."""
    study = study_for(db, principal, study_uid, Action.DELETE)
    passwords.require_password(db, db.get(User, principal.user_id), password, client_ip=client_ip)
    orthanc().delete_study(study.study_uid)
    db.execute(delete(Study).where(Study.id == study.id))
    audit.record(db, "study_deleted", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"study:{study.study_uid}")
