"""Groups: created by any active researcher or health professional, who owns it; managers add and
remove members; members leave; the owner renames, deletes or hands ownership to a member."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from functions.common import audit
from functions.common.acl import GROUP_NAME_MAX, Group, GroupMember
from functions.common.authz import require_patient_data_access
from functions.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from functions.common.http import RequestContext
from functions.common.models import User
from functions.sharing.people import active_user_by_email, person

_ORDER = {"owner": 0, "manager": 1, "member": 2}


def group_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise ValidationFailed.field("name", "must not be empty")
    if len(name) > GROUP_NAME_MAX:
        raise ValidationFailed.field("name", f"must be at most {GROUP_NAME_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ValidationFailed.field("name", "must not contain control characters")
    return name


def _membership(db: Session, group_id: str, user_id: uuid.UUID) -> tuple[Group, GroupMember]:
    """The group and the caller's membership; a group the caller is not in does not exist for them."""
    try:
        gid = uuid.UUID(group_id)
    except ValueError:
        raise NotFound("No such group.") from None
    row = db.execute(select(Group, GroupMember).join(GroupMember, GroupMember.group_id == Group.id)
                     .where(Group.id == gid, GroupMember.user_id == user_id)).first()
    if row is None:
        raise NotFound("No such group.")
    return row[0], row[1]


def _require(me: GroupMember, *roles: str) -> None:
    if me.role not in roles:
        if roles == ("owner",):
            raise Forbidden("Only the group's owner may do this.", code="not_group_owner")
        raise Forbidden("Only the group's owner and managers may do this.", code="not_group_manager")


def member_count(db: Session, group_id: uuid.UUID) -> int:
    return db.scalar(select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id))


def summary(db: Session, group: Group, my_role: str) -> dict:
    owner = db.get(User, group.owner_id)
    return {"id": str(group.id), "name": group.name, "my_role": my_role, "owner": person(owner),
            "member_count": member_count(db, group.id), "created_at": group.created_at.isoformat()}


def detail(db: Session, group: Group, my_role: str) -> dict:
    rows = db.execute(select(GroupMember, User).join(User, User.id == GroupMember.user_id)
                      .where(GroupMember.group_id == group.id)).all()
    rows.sort(key=lambda r: (_ORDER[r[0].role], r[1].name.lower(), r[1].email))
    return {**summary(db, group, my_role),
            "members": [{"user": person(u), "role": m.role, "added_at": m.added_at.isoformat()} for m, u in rows]}


def _audit(ctx: RequestContext, action: str, group: Group, **details) -> None:
    audit.record(ctx.db, action, actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                 target=f"group:{group.id}", details=details or None)


def list_groups(ctx: RequestContext) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    rows = ctx.db.execute(select(Group, GroupMember.role).join(GroupMember, GroupMember.group_id == Group.id)
                          .where(GroupMember.user_id == principal.user_id).order_by(func.lower(Group.name))).all()
    return {"items": [summary(ctx.db, g, role) for g, role in rows]}


def create_group(ctx: RequestContext) -> tuple[dict, int]:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group = Group(id=uuid.uuid4(), name=group_name(ctx.body["name"]), owner_id=principal.user_id)
    ctx.db.add(group)
    ctx.db.flush()
    ctx.db.add(GroupMember(group_id=group.id, user_id=principal.user_id, role="owner"))
    ctx.db.flush()
    ctx.db.refresh(group)
    _audit(ctx, "group_created", group)
    return detail(ctx.db, group, "owner"), 201


def get_group(ctx: RequestContext, group_id: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    return detail(ctx.db, group, me.role)


def rename_group(ctx: RequestContext, group_id: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    _require(me, "owner", "manager")
    group.name = group_name(ctx.body["name"])
    _audit(ctx, "group_renamed", group)
    return detail(ctx.db, group, me.role)


def delete_group(ctx: RequestContext, group_id: str) -> None:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    _require(me, "owner")
    _audit(ctx, "group_deleted", group)
    ctx.db.execute(delete(Group).where(Group.id == group.id))  # memberships and shares go with it


def add_member(ctx: RequestContext, group_id: str) -> tuple[dict, int]:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    _require(me, "owner", "manager")
    role = ctx.body.get("role", "member")
    if role == "manager":
        _require(me, "owner")
    user = active_user_by_email(ctx.db, ctx.body["email"], asker=principal.user_id)
    if ctx.db.get(GroupMember, (group.id, user.id)) is not None:
        raise Conflict("This person is already a member of the group.", code="already_member")
    ctx.db.add(GroupMember(group_id=group.id, user_id=user.id, role=role))
    ctx.db.flush()
    _audit(ctx, "group_member_added", group, user_id=str(user.id), role=role)
    return detail(ctx.db, group, me.role), 201


def _member(db: Session, group: Group, user_id: str) -> GroupMember:
    try:
        member = db.get(GroupMember, (group.id, uuid.UUID(user_id)))
    except ValueError:
        member = None
    if member is None:
        raise NotFound("No such member in this group.")
    return member


def change_role(ctx: RequestContext, group_id: str, user_id: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    _require(me, "owner")
    member = _member(ctx.db, group, user_id)
    if member.role == "owner":
        raise ValidationFailed("The owner's role changes only by handing ownership over.", code="cannot_change_owner")
    member.role = ctx.body["role"]
    _audit(ctx, "group_member_role", group, user_id=user_id, role=member.role)
    return detail(ctx.db, group, me.role)


def remove_member(ctx: RequestContext, group_id: str, user_id: str) -> None:
    """Managers remove members, the owner removes anyone but themselves; everyone may leave."""
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    member = _member(ctx.db, group, user_id)
    if member.user_id == principal.user_id:
        if me.role == "owner":
            raise Conflict("The owner cannot leave the group; hand ownership to a member first, or delete the group.",
                           code="owner_cannot_leave")
        action = "group_left"
    else:
        _require(me, "owner", "manager")
        if member.role != "member":
            _require(me, "owner")
        action = "group_member_removed"
    ctx.db.delete(member)
    _audit(ctx, action, group, user_id=user_id)


def transfer_ownership(ctx: RequestContext, group_id: str) -> dict:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    group, me = _membership(ctx.db, group_id, principal.user_id)
    _require(me, "owner")
    target = ctx.body["user_id"]
    if target == str(principal.user_id):
        raise ValidationFailed("You already own this group.", code="already_owner")
    try:
        member = ctx.db.get(GroupMember, (group.id, uuid.UUID(target)))
    except ValueError:
        member = None
    if member is None:
        raise ValidationFailed("Ownership goes to a member of the group; add them first.", code="not_a_member")
    member.role, me.role = "owner", "manager"
    group.owner_id = member.user_id
    _audit(ctx, "group_owner_transferred", group, user_id=target)
    return detail(ctx.db, group, "manager")
