"""Study and model shares: the owner grants a user or a group a level, changes it, revokes it.

Studies go to people of the owner's role only (health professionals' studies to approved health
professionals, researchers' studies to researchers); models to researchers only. A group qualifies
when every member but the owner of the resource is of that role.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from functions.common import audit, mail
from functions.common.acl import MODEL_LEVELS, STUDY_LEVELS, Group, GroupMember, ModelShare, StudyShare
from functions.common.ai_models import AiModel, ModelVersion
from functions.common.authz import (
    SCOPES,
    Action,
    ModelAction,
    model_access,
    model_for,
    require_patient_data_access,
    study_for,
    visible_models,
)
from functions.common.errors import Conflict, NotFound, ValidationFailed
from functions.common.http import RequestContext
from functions.common.models import User
from functions.sharing.groups import member_count
from functions.sharing.people import ROLE_NAMES, active_user_by_email, person


@dataclass(frozen=True)
class Kind:
    """What differs between sharing a study and sharing a model."""

    name: str                                   # "study" | "model"
    table: type                                 # StudyShare | ModelShare
    fk: str                                     # its column naming the resource
    levels: tuple[str, ...]
    find: Callable[[RequestContext, str], Any]  # the resource, if the caller may share it (else 404)
    grantee_role: Callable[[Any, User], str]    # the role every grantee must have
    label: Callable[[Any], str]                 # how mails name it (no patient data)
    link: str                                   # where mails send the grantee


def _find_study(ctx: RequestContext, uid: str):
    return study_for(ctx.db, ctx.principal, uid, Action.SHARE)


def _find_model(ctx: RequestContext, model_id: str):
    return model_for(ctx.db, ctx.principal, model_id, ModelAction.SHARE)


STUDY = Kind("study", StudyShare, "study_id", STUDY_LEVELS, _find_study, lambda _s, owner: owner.role,
             lambda s: f"a {'/'.join(s.modalities) or 'DICOM'} study{f' ({s.description})' if s.description else ''}",
             "/studies?scope=shared")
MODEL = Kind("model", ModelShare, "model_id", MODEL_LEVELS, _find_model, lambda _m, _owner: "researcher",
             lambda m: f"the model {m.name!r}", "/models/shared")


def _start(ctx: RequestContext, kind: Kind, resource_id: str):
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    return kind.find(ctx, resource_id)


def share_json(db: Session, share) -> dict:
    if share.user_id is not None:
        grantee = {"type": "user", "user": person(db.get(User, share.user_id))}
    else:
        group = db.get(Group, share.group_id)
        grantee = {"type": "group", "group": {"id": str(group.id), "name": group.name,
                                              "member_count": member_count(db, group.id)}}
    return {"id": str(share.id), "level": share.level, "grantee": grantee,
            "created_at": share.created_at.isoformat(), "created_by": person(db.get(User, share.created_by))}


def _shares(db: Session, kind: Kind, resource) -> list:
    return list(db.scalars(select(kind.table).where(getattr(kind.table, kind.fk) == resource.id)
                           .order_by(kind.table.created_at)))


def list_shares(ctx: RequestContext, kind: Kind, resource_id: str) -> dict:
    resource = _start(ctx, kind, resource_id)
    body = {"owner": person(ctx.db.get(User, resource.owner_id)),
            "items": [share_json(ctx.db, s) for s in _shares(ctx.db, kind, resource)]}
    if kind is MODEL:
        body["published_version"] = _published_version(ctx.db, resource)
    return body


def _check_level(kind: Kind, level: str) -> None:
    if level not in kind.levels:
        raise ValidationFailed.field("level", "must be one of " + ", ".join(kind.levels))


def _grantee(ctx: RequestContext, kind: Kind, resource, owner: User) -> tuple[dict, list[User]]:
    """The share row's grantee columns and the people to notify; refuses unknown, self, wrong role."""
    body, me = ctx.body, ctx.principal.user_id
    role = kind.grantee_role(resource, owner)
    if ("email" in body) == ("group_id" in body):
        raise ValidationFailed("Share with either an email address or a group, not both.", code="validation",
                               errors=[{"field": "email", "message": "give email or group_id"}])
    if "email" in body:
        user = active_user_by_email(ctx.db, body["email"], asker=me)
        if user.id == owner.id:
            raise ValidationFailed("You cannot share with yourself.", code="share_with_self",
                                   errors=[{"field": "email", "message": "that is you"}])
        if user.role != role:
            raise ValidationFailed(f"This {kind.name} can only be shared with {ROLE_NAMES[role]}.", code="wrong_role",
                                   errors=[{"field": "email", "message": f"not one of the {ROLE_NAMES[role]}"}])
        return {"user_id": user.id}, [user]
    try:
        group_id = uuid.UUID(body["group_id"])
    except ValueError:
        group_id = None
    mine = ctx.db.scalar(select(GroupMember.group_id).where(GroupMember.group_id == group_id,
                                                            GroupMember.user_id == me))
    if mine is None:
        raise NotFound("No such group among yours.", code="unknown_group")
    members = ctx.db.scalars(select(User).join(GroupMember, GroupMember.user_id == User.id)
                             .where(GroupMember.group_id == group_id, User.id != owner.id)).all()
    if any(m.role != role or m.status != "active" for m in members):
        raise ValidationFailed(f"This {kind.name} can only be shared with groups whose members are all approved "
                               f"{ROLE_NAMES[role]}.", code="wrong_role",
                               errors=[{"field": "group_id", "message": f"has members who are not {ROLE_NAMES[role]}"}])
    return {"group_id": group_id}, list(members)


def create_share(ctx: RequestContext, kind: Kind, resource_id: str) -> tuple[dict, int]:
    resource = _start(ctx, kind, resource_id)
    _check_level(kind, ctx.body["level"])
    owner = ctx.db.get(User, resource.owner_id)
    grantee, notify = _grantee(ctx, kind, resource, owner)
    share = kind.table(id=uuid.uuid4(), level=ctx.body["level"], created_by=ctx.principal.user_id,
                       **{kind.fk: resource.id}, **grantee)
    try:
        with ctx.db.begin_nested():
            ctx.db.add(share)
    except IntegrityError:
        raise Conflict(f"The {kind.name} is already shared with them; change the level instead.",
                       code="already_shared") from None
    ctx.db.refresh(share)
    audit.record(ctx.db, f"{kind.name}_shared", actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                 target=_target(kind, resource), details={"share_id": str(share.id), "level": share.level,
                                                          **{k: str(v) for k, v in grantee.items()}})
    body = share_json(ctx.db, share)
    ctx.db.commit()
    for user in notify:
        mail.send(user.email, f"{owner.name} shared {kind.label(resource)} with you on MedCloudCare",
                  f"{owner.name} gave you {share.level} access to {kind.label(resource)}.\n\n"
                  f"Find it under \"Shared with me\": {ctx.settings.public_url}{kind.link}")
    return body, 201


def _share(ctx: RequestContext, kind: Kind, resource, share_id: str):
    try:
        share = ctx.db.get(kind.table, uuid.UUID(share_id))
    except ValueError:
        share = None
    if share is None or getattr(share, kind.fk) != resource.id:
        raise NotFound("No such share.")
    return share


def _target(kind: Kind, resource) -> str:
    return f"study:{resource.study_uid}" if kind is STUDY else f"model:{resource.id}"


def change_level(ctx: RequestContext, kind: Kind, resource_id: str, share_id: str) -> dict:
    resource = _start(ctx, kind, resource_id)
    share = _share(ctx, kind, resource, share_id)
    _check_level(kind, ctx.body["level"])
    share.level = ctx.body["level"]
    audit.record(ctx.db, f"{kind.name}_share_changed", actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                 target=_target(kind, resource), details={"share_id": share_id, "level": share.level})
    return share_json(ctx.db, share)


def revoke(ctx: RequestContext, kind: Kind, resource_id: str, share_id: str) -> None:
    resource = _start(ctx, kind, resource_id)
    share = _share(ctx, kind, resource, share_id)
    ctx.db.delete(share)
    audit.record(ctx.db, f"{kind.name}_share_revoked", actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                 target=_target(kind, resource), details={"share_id": share_id})


# -------------------------------------------------------------------------------------- publication

def _published_version(db: Session, model: AiModel) -> int | None:
    return db.scalar(select(ModelVersion.version).where(ModelVersion.model_id == model.id, ModelVersion.published))


def publish(ctx: RequestContext, model_id: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    model = model_for(ctx.db, principal, model_id, ModelAction.PUBLISH)
    version = ctx.db.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id,
                                                       ModelVersion.version == ctx.body["version"]))
    if version is None:
        raise ValidationFailed.field("version", "this model has no such version", code="unknown_version")
    ctx.db.execute(update(ModelVersion).where(ModelVersion.model_id == model.id).values(published=False))
    ctx.db.flush()
    version.published = True
    audit.record(ctx.db, "model_published", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 target=f"model:{model.id}", details={"version": version.version})
    return {"published_version": version.version}


def unpublish(ctx: RequestContext, model_id: str) -> None:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    model = model_for(ctx.db, principal, model_id, ModelAction.PUBLISH)
    ctx.db.execute(update(ModelVersion).where(ModelVersion.model_id == model.id).values(published=False))
    audit.record(ctx.db, "model_unpublished", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 target=f"model:{model.id}")


def models_shared_with_me(ctx: RequestContext) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    scope = ctx.request.args.get("scope", "shared")
    if scope not in SCOPES:
        raise ValidationFailed.field("scope", "must be one of " + ", ".join(SCOPES))
    models = ctx.db.scalars(visible_models(principal, scope).order_by(AiModel.name).limit(500)).all()
    return {"items": [{"id": str(m.id), "name": m.name, "owner": person(ctx.db.get(User, m.owner_id)),
                       "access": model_access(ctx.db, principal, m),
                       "published_version": _published_version(ctx.db, m)} for m in models]}
