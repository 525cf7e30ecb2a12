"""Study and model shares: the owner grants a user or a group a level, changes it, revokes it.

Studies go to people of the owner's role only (health professionals' studies to approved health
professionals, researchers' studies to researchers); models to researchers only. A group qualifies
when every member but the owner of the resource is of that role. What differs between the two
kinds of resource is one `Kind`; every service below serves both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from functions.common.access.policy import (
    MODEL_ACTIONS,
    STUDY_ACTIONS,
    Action,
    ModelAction,
    model_access,
    model_for,
    study_access,
    study_for,
    visible_models,
)
from functions.common.access.tables import MODEL_LEVELS, STUDY_LEVELS, Group, GroupMember, ModelShare, StudyShare
from functions.common.accounts.people import person
from functions.common.accounts.tables import User
from functions.common.ai_models import services
from functions.common.ai_models.tables import AiModel, ModelVersion
from functions.common.ai_models.versions import version_of
from functions.common.platform import mail
from functions.common.platform.config import get_settings
from functions.common.platform.errors import Conflict, NotFound, ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.sharing.groups import member_count
from functions.sharing.people import ROLE_NAMES, active_user_by_email
from model_builder.deploy import DeployError


@dataclass(frozen=True)
class Kind:
    """What differs between sharing a study and sharing a model."""

    name: str                                   # "study" | "model"
    plural: str                                 # in paths: /shares/studies/…, /access/models/…
    param: str                                  # the path parameter naming the resource, with its kind
    table: type                                 # StudyShare | ModelShare
    fk: str                                     # its column naming the resource
    levels: tuple[str, ...]
    find: Callable[[Session, Principal, Any, Any], Any]  # the resource if the caller may (action), else 404
    share_action: Any                           # what sharing it takes
    read_action: Any                            # what seeing one's own access takes
    access: Callable[[Session, Principal, Any], str | None]
    actions: dict[str, tuple]                   # what each access level allows
    grantee_role: Callable[[Any, User], str]    # the role every grantee must have
    label: Callable[[Any], str]                 # how mails name it: no patient data, no DICOM free text
    link: str                                   # where mails send the grantee
    target: Callable[[Any], str]                # how the audit log names it


STUDY = Kind("study", "studies", "uid:study_uid", StudyShare, "study_id", STUDY_LEVELS, study_for, Action.SHARE,
             Action.READ, study_access, STUDY_ACTIONS, lambda _s, owner: owner.role,
             lambda s: f"a {'/'.join(s.modalities) or 'DICOM'} study",
             "/studies?scope=shared", lambda s: f"study:{s.study_uid}")
MODEL = Kind("model", "models", "uuid:model_id", ModelShare, "model_id", MODEL_LEVELS, model_for, ModelAction.SHARE,
             ModelAction.USE, model_access, MODEL_ACTIONS, lambda _m, _owner: "researcher",
             lambda m: f"the model {m.name!r}", "/models/shared", lambda m: f"model:{m.id}")
KINDS = (STUDY, MODEL)


def my_access(db: Session, principal: Principal, kind: Kind, resource_id: Any) -> dict:
    """The caller's access to a resource they may see, and what it lets them do."""
    resource = kind.find(db, principal, resource_id, kind.read_action)
    access = kind.access(db, principal, resource)
    return {"access": access, "actions": [str(a) for a in kind.actions[access]]}


def share_json(db: Session, share) -> dict:
    if share.user_id is not None:
        grantee = {"type": "user", "user": person(db.get(User, share.user_id))}
    else:
        group = db.get(Group, share.group_id)
        grantee = {"type": "group", "group": {"id": str(group.id), "name": group.name,
                                              "member_count": member_count(db, group.id)}}
    return {"id": str(share.id), "level": share.level, "grantee": grantee,
            "created_at": share.created_at.isoformat(), "created_by": person(db.get(User, share.created_by))}


def list_shares(db: Session, principal: Principal, kind: Kind, resource_id: Any) -> dict:
    resource = kind.find(db, principal, resource_id, kind.share_action)
    rows = db.scalars(select(kind.table).where(getattr(kind.table, kind.fk) == resource.id)
                      .order_by(kind.table.created_at))
    body = {"owner": person(db.get(User, resource.owner_id)), "items": [share_json(db, s) for s in rows]}
    if kind is MODEL:
        body["published_version"] = _published_version(db, resource)
    return body


def _check_level(kind: Kind, level: str) -> None:
    if level not in kind.levels:
        raise ValidationFailed.field("level", "must be one of " + ", ".join(kind.levels))


@dataclass(frozen=True)
class Grantee:
    """Whom a new share names: an email address or one of the caller's groups (exactly one)."""

    email: str | None = None
    group_id: str | None = None


def _grantee(db: Session, principal: Principal, kind: Kind, resource, owner: User,
             grantee: Grantee) -> tuple[dict, list[User]]:
    """The share row's grantee columns and the people to notify; refuses unknown, self, wrong role."""
    role = kind.grantee_role(resource, owner)
    if (grantee.email is None) == (grantee.group_id is None):
        raise ValidationFailed("Share with either an email address or a group, not both.", code="validation",
                               errors=[{"field": "email", "message": "give email or group_id"}])
    if grantee.email is not None:
        user = active_user_by_email(db, grantee.email, asker=principal.user_id)
        if user.id == owner.id:
            raise ValidationFailed("You cannot share with yourself.", code="share_with_self",
                                   errors=[{"field": "email", "message": "that is you"}])
        if user.role != role:
            raise ValidationFailed(f"This {kind.name} can only be shared with {ROLE_NAMES[role]}.", code="wrong_role",
                                   errors=[{"field": "email", "message": f"not one of the {ROLE_NAMES[role]}"}])
        return {"user_id": user.id}, [user]
    try:
        group_id = uuid.UUID(grantee.group_id)
    except ValueError:
        group_id = None
    mine = db.scalar(select(GroupMember.group_id).where(GroupMember.group_id == group_id,
                                                        GroupMember.user_id == principal.user_id))
    if mine is None:
        raise NotFound("No such group among yours.", code="unknown_group")
    members = db.scalars(select(User).join(GroupMember, GroupMember.user_id == User.id)
                         .where(GroupMember.group_id == group_id, User.id != owner.id)).all()
    if any(m.role != role or m.status != "active" for m in members):
        raise ValidationFailed(f"This {kind.name} can only be shared with groups whose members are all approved "
                               f"{ROLE_NAMES[role]}.", code="wrong_role",
                               errors=[{"field": "group_id", "message": f"has members who are not {ROLE_NAMES[role]}"}])
    return {"group_id": group_id}, list(members)


def create_share(db: Session, principal: Principal, kind: Kind, resource_id: Any, *, grantee: Grantee, level: str,
                 client_ip: str | None) -> dict:
    """Share, audit, commit, then mail the grantees (a failed mail does not undo the share)."""
    resource = kind.find(db, principal, resource_id, kind.share_action)
    _check_level(kind, level)
    owner = db.get(User, resource.owner_id)
    columns, notify = _grantee(db, principal, kind, resource, owner, grantee)
    share = kind.table(id=uuid.uuid4(), level=level, created_by=principal.user_id, **{kind.fk: resource.id},
                       **columns)
    try:
        with db.begin_nested():
            db.add(share)
    except IntegrityError:
        raise Conflict(f"The {kind.name} is already shared with them; change the level instead.",
                       code="already_shared") from None
    db.refresh(share)
    audit.record(db, f"{kind.name}_shared", actor_id=principal.user_id, client_ip=client_ip,
                 target=kind.target(resource), details={"share_id": str(share.id), "level": share.level,
                                                        **{k: str(v) for k, v in columns.items()}})
    body = share_json(db, share)
    db.commit()
    for user in notify:
        mail.send(user.email, f"{owner.name} shared {kind.label(resource)} with you on MedCloudCare",
                  f"{owner.name} gave you {share.level} access to {kind.label(resource)}.\n\n"
                  f"Find it under \"Shared with me\": {get_settings().public_url}{kind.link}")
    return body


def _share(db: Session, kind: Kind, resource, share_id: uuid.UUID):
    share = db.get(kind.table, share_id)
    if share is None or getattr(share, kind.fk) != resource.id:
        raise NotFound("No such share.")
    return share


def change_level(db: Session, principal: Principal, kind: Kind, resource_id: Any, share_id: uuid.UUID, *,
                 level: str, client_ip: str | None) -> dict:
    resource = kind.find(db, principal, resource_id, kind.share_action)
    share = _share(db, kind, resource, share_id)
    _check_level(kind, level)
    share.level = level
    audit.record(db, f"{kind.name}_share_changed", actor_id=principal.user_id, client_ip=client_ip,
                 target=kind.target(resource), details={"share_id": str(share_id), "level": share.level})
    return share_json(db, share)


def revoke(db: Session, principal: Principal, kind: Kind, resource_id: Any, share_id: uuid.UUID, *,
           client_ip: str | None) -> None:
    resource = kind.find(db, principal, resource_id, kind.share_action)
    share = _share(db, kind, resource, share_id)
    db.delete(share)
    audit.record(db, f"{kind.name}_share_revoked", actor_id=principal.user_id, client_ip=client_ip,
                 target=kind.target(resource), details={"share_id": str(share_id)})


# -------------------------------------------------------------------------------------- publication

def _published_version(db: Session, model: AiModel) -> int | None:
    return db.scalar(select(ModelVersion.version).where(ModelVersion.model_id == model.id, ModelVersion.published))


def _follow(db: Session, model: AiModel) -> None:
    """The model's services follow its publication (the published version served, an unpublished one stopped)."""
    try:
        services.sync(db, model)
    except DeployError:
        pass  # logged by sync; the executor deploys a runnable version's service on its next job


def publish(db: Session, principal: Principal, model_id: uuid.UUID, *, version: int, client_ip: str | None) -> dict:
    """Make one version runnable by every approved health professional (at most one per model)."""
    model = model_for(db, principal, model_id, ModelAction.PUBLISH)
    row = version_of(db, model.id, version, ready_to="be published")
    db.execute(update(ModelVersion).where(ModelVersion.model_id == model.id).values(published=False))
    db.flush()
    row.published = True
    db.flush()
    _follow(db, model)
    audit.record(db, "model_published", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"model:{model.id}", details={"version": row.version})
    return {"published_version": row.version}


def unpublish(db: Session, principal: Principal, model_id: uuid.UUID, *, client_ip: str | None) -> None:
    model = model_for(db, principal, model_id, ModelAction.PUBLISH)
    db.execute(update(ModelVersion).where(ModelVersion.model_id == model.id).values(published=False))
    _follow(db, model)
    audit.record(db, "model_unpublished", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"model:{model.id}")


def models_shared_with_me(db: Session, principal: Principal, *, scope: str) -> dict:
    models = db.scalars(visible_models(principal, scope).order_by(AiModel.name).limit(500)).all()
    return {"items": [{"id": str(m.id), "name": m.name, "owner": person(db.get(User, m.owner_id)),
                       "access": model_access(db, principal, m),
                       "published_version": _published_version(db, m)} for m in models]}
