"""The one permission model: may user U do action A on resource R?

Every function asks here (gateway, studies, sharing, models, inference). Access comes from
ownership, a direct share, or a share with a group the user belongs to; for models also from a
published version. Lists are filtered in SQL (`visible_studies`, split per owner by `study_sources` for the
study search; `visible_models`), never by loading rows and filtering in Python, and every request asks
again: a revoked share or a removed group member loses access on the very next request.

Rules beyond the share rows:
- patient data is for active researchers and health professionals only; admins manage accounts
  and see no study by role alone;
- a study shared to someone of the other role (through a mixed group) stays invisible to them:
  health professionals' studies reach health professionals, researchers' studies researchers;
- models are shared with researchers; a published version may be run by every active health
  professional.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable

from sqlalchemy import Select, and_, bindparam, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from functions.common.access.tables import GroupMember, ModelShare, StudyShare
from functions.common.accounts.tables import User
from functions.common.ai_models.tables import AiModel, ModelVersion
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.search import StudySource
from functions.common.platform.errors import Forbidden, NotFound, Refused
from functions.common.security.tokens import Principal

PATIENT_DATA_ROLES = ("researcher", "health_professional")
SCOPES = ("all", "mine", "shared")  # of a list: everything I may see, what I own, what others share with me


class Action(enum.StrEnum):
    READ = "read"          # search, view metadata, retrieve
    STORE = "store"        # add instances to the study (measurements, annotations, AI results)
    DELETE = "delete"
    SHARE = "share"        # see and change who has access


class ModelAction(enum.StrEnum):
    USE = "use"            # run it
    EDIT = "edit"          # change its information and code (new versions)
    SHARE = "share"
    PUBLISH = "publish"


STUDY_ACTIONS: dict[str, tuple[Action, ...]] = {
    "owner": (Action.READ, Action.STORE, Action.DELETE, Action.SHARE),
    "contribute": (Action.READ, Action.STORE),
    "read": (Action.READ,),
}
MODEL_ACTIONS: dict[str, tuple[ModelAction, ...]] = {
    "owner": (ModelAction.USE, ModelAction.EDIT, ModelAction.SHARE, ModelAction.PUBLISH),
    "edit": (ModelAction.USE, ModelAction.EDIT),
    "use": (ModelAction.USE,),
    "published": (ModelAction.USE,),
}
_RANK = {"read": 1, "use": 1, "contribute": 2, "edit": 2}


def has_patient_data_access(principal: Principal) -> bool:
    """An active researcher or health professional: admins and pending or rejected accounts see no patient data."""
    return principal.role in PATIENT_DATA_ROLES and principal.status == "active"


def require_patient_data_access(principal: Principal) -> None:
    """As `has_patient_data_access`, refusing with the reason."""
    if principal.role not in PATIENT_DATA_ROLES:
        raise Forbidden("This account has no access to patient data.", code="no_patient_data_access")
    if principal.status != "active":
        raise Forbidden("Your account is awaiting approval; studies open once an administrator approves it.",
                        code="account_pending")


def my_groups(user_id: uuid.UUID) -> Select:
    return select(GroupMember.group_id).where(GroupMember.user_id == user_id)


def _granted_to(share, user_id: uuid.UUID):
    """The share row names the user, or a group the user is a member of (now)."""
    return or_(share.user_id == user_id, share.group_id.in_(my_groups(user_id)))


def _same_role_owner(owner_col, role: str):
    return owner_col.in_(select(User.id).where(User.role == role))


def _scoped(scope: str, mine, others):
    """A list's condition: `mine`, `shared` (others', granted to me) or `all` (either)."""
    return {"mine": mine, "shared": and_(~mine, others), "all": or_(mine, others)}[scope]


def _best_share(db: Session, level_col, of_resource, principal: Principal) -> str | None:
    """The highest level among the shares of one resource granted to the caller or their groups."""
    table = level_col.class_
    levels = db.scalars(select(level_col).where(of_resource, _granted_to(table, principal.user_id))).all()
    return max(levels, key=_RANK.__getitem__, default=None)


# ------------------------------------------------------------------------------------------ studies

def shared_study_ids(principal: Principal) -> Select:
    """Ids of studies shared with the caller (directly or through a group), owned by someone of their role."""
    return (select(StudyShare.study_id).join(Study, Study.id == StudyShare.study_id)
            .where(_granted_to(StudyShare, principal.user_id),
                   _same_role_owner(Study.owner_id, principal.role)))


def visible_studies(principal: Principal, scope: str = "all") -> Select:
    """Studies the caller may read, as a query to refine (filters, order, paging). `scope`: all, mine, shared."""
    mine = Study.owner_id == principal.user_id
    shared = Study.id.in_(shared_study_ids(principal))
    return select(Study).where(_scoped(scope, mine, shared))


# Up to this many of the caller's shares from one owner, their studies are looked up by id (about 3 ms per 1,000
# at 100,000 studies); beyond, the owner's index is walked and each entry checked against the caller's shares (2-6 ms
# to a page at one study in ten shared, but 10-50 ms at one in a hundred, where lookups take 3-5 ms).
LOOKUP_SHARES_MAX = 2000


def study_sources(db: Session, principal: Principal, scope: str = "all") -> list[StudySource]:
    """`visible_studies` split by owner (the same studies, per owner): the caller's own (scope all or mine), then
    one per owner of the studies shared with the caller (scope all or shared)."""
    me = principal.user_id
    sources = [StudySource(me, Study.owner_id == me)] if scope in ("all", "mine") else []
    if scope in ("all", "shared"):
        sources += [StudySource(owner, and_(Study.owner_id == owner, _granted_study(me, lookup=n <= LOOKUP_SHARES_MAX)))
                    for owner, n in _sharers(db, principal)]
    return sources


def _sharers(db: Session, principal: Principal) -> list[tuple[uuid.UUID, int]]:
    """(owner, shares up to LOOKUP_SHARES_MAX + 1) of the studies shared with the caller, by owner id. Only a study's
    owner may share it (STUDY_ACTIONS), so the shares' creators are the owners: read from the share rows alone, per
    grantee (the caller, each of their groups) along its (grantee, creator) index, skipping from one creator to the
    next: the cost follows the number of owners, not of shares (grouping 10,000 shares took 6 ms a search)."""
    me = principal.user_id
    grantees = [StudyShare.user_id == me, *(StudyShare.group_id == g for g in db.scalars(my_groups(me)))]
    creators = {owner for grantee in grantees for owner in _distinct_creators(db, grantee)} - {me}
    if not creators:
        return []
    owners = db.scalars(select(User.id).where(User.id.in_(creators), User.role == principal.role)
                        .order_by(User.id)).all()
    return [(owner, sum(_capped_count(db, grantee, owner) for grantee in grantees)) for owner in owners]


def _distinct_creators(db: Session, grantee) -> list[uuid.UUID]:
    """The distinct creators of one grantee's shares: a recursive walk, one index probe per creator (PostgreSQL
    has no skip scan of its own)."""
    def first(*after) -> Select:
        return select(StudyShare.created_by).where(grantee, *after).order_by(StudyShare.created_by).limit(1)

    walk = select(first().scalar_subquery().label("owner")).cte("creators", recursive=True)
    walk = walk.union_all(select(first(StudyShare.created_by > walk.c.owner).scalar_subquery())
                          .where(walk.c.owner.is_not(None)))
    return list(db.scalars(select(walk.c.owner).where(walk.c.owner.is_not(None))))


def _capped_count(db: Session, grantee, owner: uuid.UUID) -> int:
    """How many of the grantee's shares the owner created, counted up to LOOKUP_SHARES_MAX + 1 (enough to choose)."""
    capped = select(literal(1)).select_from(StudyShare).where(grantee, StudyShare.created_by == owner) \
        .limit(LOOKUP_SHARES_MAX + 1).subquery()
    return db.scalar(select(func.count()).select_from(capped))


def _granted_study(user_id: uuid.UUID, *, lookup: bool):
    """The study row is shared with the user or one of their groups: by id among the user's shared studies
    (`lookup`: the plan starts from the shares), else as two probes of the share indexes by study and grantee (the
    plan walks the owner's studies; one OR over both grantee columns would scan every share of the study)."""
    if lookup:
        return Study.id.in_(union_all(select(StudyShare.study_id).where(StudyShare.user_id == user_id),
                                      select(StudyShare.study_id).where(StudyShare.group_id.in_(my_groups(user_id)))))
    return or_(exists().where(StudyShare.study_id == Study.id, StudyShare.user_id == user_id),
               exists().where(StudyShare.study_id == Study.id, StudyShare.group_id.in_(my_groups(user_id))))


def study_access(db: Session, principal: Principal, study: Study) -> str | None:
    """"owner", "contribute", "read" or None: the caller's best access to the study right now."""
    if not has_patient_data_access(principal):
        return None
    if study.owner_id == principal.user_id:
        return "owner"
    owner_role = db.scalar(select(User.role).where(User.id == study.owner_id))
    if owner_role != principal.role:
        return None
    return _best_share(db, StudyShare.level, StudyShare.study_id == study.id, principal)


def can(db: Session, principal: Principal, action: Action, study: Study) -> bool:
    return action in STUDY_ACTIONS.get(study_access(db, principal, study) or "", ())


# Built once (these run on every frame a viewer fetches): the study by its UID and, as single-table scalar
# subqueries (cheaper to plan than joins), its series of that UID and the series holding the SOP instance.
_STUDY = select(Study).where(Study.study_uid == bindparam("study_uid"))
_ITS_SERIES = (select(Series.id).where(Series.study_pk == Study.id, Series.series_uid == bindparam("series_uid"))
               .scalar_subquery())
_SERIES_OF_INSTANCE = select(Instance.series_pk).where(Instance.sop_uid == bindparam("sop_uid")).scalar_subquery()
_LOCATE = (_STUDY, _STUDY.add_columns(_ITS_SERIES), _STUDY.add_columns(_ITS_SERIES, _SERIES_OF_INSTANCE))


def study_for(db: Session, principal: Principal, study_uid: str, action: Action, *, series_uid: str | None = None,
              sop_uid: str | None = None) -> Study:
    """The study if the caller may do `action` on it and, per the index, it holds the series (and that series
    the instance) named; unknown and forbidden studies answer alike (404), and so does a series or instance
    the study does not hold, whether it is another study's or nobody's. One query for all of it."""
    named = {"study_uid": study_uid, "series_uid": series_uid, "sop_uid": sop_uid}
    depth = 0 if series_uid is None else 1 if sop_uid is None else 2
    row = db.execute(_LOCATE[depth], {k: v for k, v in named.items() if v is not None}).first()
    if row is None or not can(db, principal, action, row[0]):
        raise Refused("No such study.", target=f"study:{study_uid}", exists=row is not None)
    if None in row[1:] or len(set(row[1:])) > 1:  # no such series here; the instance is in no series or another
        raise NotFound("No such series or instance in this study.")
    return row[0]


def access_to_studies(db: Session, principal: Principal, studies: list[Study]) -> dict[uuid.UUID, str]:
    """`study_access` for a page of studies the caller may read (from `visible_studies`), in one query."""
    access = {s.id: "owner" for s in studies if s.owner_id == principal.user_id}
    others = [s.id for s in studies if s.id not in access]
    if others:
        rows = db.execute(select(StudyShare.study_id, StudyShare.level)
                          .where(StudyShare.study_id.in_(others), _granted_to(StudyShare, principal.user_id)))
        for study_id, level in rows:
            if _RANK[level] > _RANK.get(access.get(study_id, ""), 0):
                access[study_id] = level
    return access


def may_store_into(db: Session, principal: Principal, study: Study | None) -> bool:
    """May the caller add instances to this study? A new study (None) becomes theirs; an existing one
    needs ownership or `contribute`. Ingest asks before an upload and again under the study's lock."""
    if study is None:
        return has_patient_data_access(principal)
    return can(db, principal, Action.STORE, study)


def may_store(principal: Principal) -> Callable[[Session, Study | None], bool]:
    """`may_store_into` for one caller: the check an `Ingest` runs."""
    return lambda db, study: may_store_into(db, principal, study)


# ------------------------------------------------------------------------------------------- models

def _published(model_id_col):
    return exists().where(ModelVersion.model_id == model_id_col, ModelVersion.published)


def visible_models(principal: Principal, scope: str = "all") -> Select:
    """Models the caller may at least use. `scope`: all, mine, shared (shared with me or published)."""
    if not has_patient_data_access(principal):
        return select(AiModel).where(literal(False))
    mine = AiModel.owner_id == principal.user_id
    if principal.role == "researcher":
        shared = AiModel.id.in_(select(ModelShare.model_id).where(_granted_to(ModelShare, principal.user_id)))
        others = and_(shared, _same_role_owner(AiModel.owner_id, "researcher"))
    else:  # health professionals run published versions
        others = _published(AiModel.id)
    return select(AiModel).where(_scoped(scope, mine, others))


def model_access(db: Session, principal: Principal, model: AiModel) -> str | None:
    """"owner", "edit", "use", "published" or None."""
    if not has_patient_data_access(principal):
        return None
    if model.owner_id == principal.user_id:
        return "owner"
    if principal.role == "researcher":
        return _best_share(db, ModelShare.level, ModelShare.model_id == model.id, principal)
    published = db.scalar(select(_published(literal(model.id))))
    return "published" if published else None


def can_model(db: Session, principal: Principal, action: ModelAction, model: AiModel) -> bool:
    return action in MODEL_ACTIONS.get(model_access(db, principal, model) or "", ())


def model_for(db: Session, principal: Principal, model_id: uuid.UUID | str, action: ModelAction) -> AiModel:
    """The model if the caller may do `action` on it; unknown and forbidden answer alike (404)."""
    try:
        model = db.get(AiModel, uuid.UUID(str(model_id)))
    except ValueError:
        model = None
    if model is None or not can_model(db, principal, action, model):
        raise Refused("No such model.", target=f"model:{model_id}", exists=model is not None)
    return model

