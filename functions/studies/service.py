"""The portal's study list (from the index, filtered in SQL) and study deletion with crypto-shredding."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from functions.common import audit, passwords
from functions.common.authz import (
    SCOPES,
    Action,
    access_to_studies,
    require_patient_data_access,
    study_access,
    study_for,
    visible_studies,
)
from functions.common.errors import ValidationFailed
from functions.common.http import RequestContext, paging
from functions.common.index import Study
from functions.common.models import User
from functions.common.orthanc import orthanc
from functions.common.pseudonyms import originals_keyword_value
from functions.common.study_query import StudyFilter, apply, originals, page

ORIGINAL_FIELDS = {"patient_name": "PatientName", "patient_id": "PatientID", "patient_birth_date": "PatientBirthDate",
                   "accession_number": "AccessionNumber", "referring_physician": "ReferringPhysicianName"}




def summary(study: Study, *, access: str, owner_name: str | None) -> dict:
    orig = originals(study)
    return {
        "access": access, "owner": {"name": owner_name},
        "study_uid": study.study_uid,
        **{name: originals_keyword_value(orig, keyword) for name, keyword in ORIGINAL_FIELDS.items()},
        "study_date": study.study_date.isoformat() if study.study_date else None,
        "modalities": list(study.modalities), "description": study.description,
        "num_series": study.num_series, "num_instances": study.num_instances,
        "uploaded_at": study.created_at.isoformat() if study.created_at else None,
    }


def _date(args, name: str) -> dt.date | None:
    raw = args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.field(name, "must be a date such as 2026-01-31") from None


def list_studies(ctx: RequestContext) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    args = ctx.request.args
    limit, offset = paging(args, default_limit=25, max_limit=100)
    scope = args.get("scope", "all")
    if scope not in SCOPES:
        raise ValidationFailed.field("scope", "must be one of " + ", ".join(SCOPES))
    f = StudyFilter(patient_name=args.get("patient_name") or None, patient_id=args.get("patient_id") or None,
                    modality=args.get("modality") or None, date_from=_date(args, "date_from"),
                    date_to=_date(args, "date_to"))
    studies, total = page(ctx.db, apply(visible_studies(principal, scope), f), sort=args.get("sort", "date"),
                          limit=limit, offset=offset, with_total=True)
    audit.record(ctx.db, "study_list", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 details={"results": len(studies), "scope": scope})
    access = access_to_studies(ctx.db, principal, studies)
    names = _owner_names(ctx, studies)
    return {"items": [summary(s, access=access[s.id], owner_name=names.get(s.owner_id)) for s in studies],
            "total": total}


def _owner_names(ctx: RequestContext, studies: list[Study]) -> dict:
    owners = {s.owner_id for s in studies}
    return dict(ctx.db.execute(select(User.id, User.name).where(User.id.in_(owners))).all()) if owners else {}


def get_study(ctx: RequestContext, study_uid: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    study = study_for(ctx.db, principal, study_uid, Action.READ)
    audit.record(ctx.db, "study_view", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 target=f"study:{study.study_uid}", details={"what": "summary"})
    owner_name = ctx.db.scalar(select(User.name).where(User.id == study.owner_id))
    return summary(study, access=study_access(ctx.db, principal, study), owner_name=owner_name)


def delete_study(ctx: RequestContext, study_uid: str) -> None:
    """Remove the study from the archive and the index; dropping its row destroys its data key."""
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    study = study_for(ctx.db, principal, study_uid, Action.DELETE)
    passwords.require_password(ctx, ctx.db.get(User, principal.user_id), ctx.body["password"])
    orthanc().delete_study(study.study_uid)
    ctx.db.execute(delete(Study).where(Study.id == study.id))
    audit.record(ctx.db, "study_deleted", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 target=f"study:{study.study_uid}")
