"""Groups: created by any active researcher or health professional, who owns it; managers add and
remove members; members leave; the owner renames, deletes or hands ownership to a member."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from functions.common.access.tables import GROUP_NAME_MAX, Group, GroupMember
from functions.common.accounts.people import person
from functions.common.accounts.tables import User
from functions.common.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.sharing.people import active_user_by_email

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


def _membership(db: Session, group_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Group, GroupMember]:
    """The group and the caller's membership; a group the caller is not in does not exist for them."""
    row = db.execute(select(Group, GroupMember).join(GroupMember, GroupMember.group_id == Group.id)
                     .where(Group.id == group_id, GroupMember.user_id == user_id)).first()
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


def _audit(db: Session, principal: Principal, action: str, group: Group, client_ip: str | None, **details) -> None:
    audit.record(db, action, actor_id=principal.user_id, client_ip=client_ip, target=f"group:{group.id}",
                 details=details or None)


def list_groups(db: Session, principal: Principal) -> dict:
    rows = db.execute(select(Group, GroupMember.role).join(GroupMember, GroupMember.group_id == Group.id)
                      .where(GroupMember.user_id == principal.user_id).order_by(func.lower(Group.name))).all()
    return {"items": [summary(db, g, role) for g, role in rows]}


def create_group(db: Session, principal: Principal, *, name: str, client_ip: str | None) -> dict:
    group = Group(id=uuid.uuid4(), name=group_name(name), owner_id=principal.user_id)
    db.add(group)
    db.flush()
    db.add(GroupMember(group_id=group.id, user_id=principal.user_id, role="owner"))
    db.flush()
    db.refresh(group)
    _audit(db, principal, "group_created", group, client_ip)
    return detail(db, group, "owner")


def get_group(db: Session, principal: Principal, group_id: uuid.UUID) -> dict:
    group, me = _membership(db, group_id, principal.user_id)
    return detail(db, group, me.role)


def rename_group(db: Session, principal: Principal, group_id: uuid.UUID, *, name: str, client_ip: str | None) -> dict:
    group, me = _membership(db, group_id, principal.user_id)
    _require(me, "owner", "manager")
    group.name = group_name(name)
    _audit(db, principal, "group_renamed", group, client_ip)
    return detail(db, group, me.role)


def delete_group(db: Session, principal: Principal, group_id: uuid.UUID, *, client_ip: str | None) -> None:
    group, me = _membership(db, group_id, principal.user_id)
    _require(me, "owner")
    _audit(db, principal, "group_deleted", group, client_ip)
    db.execute(delete(Group).where(Group.id == group.id))  # memberships and shares go with it


def add_member(db: Session, principal: Principal, group_id: uuid.UUID, *, email: str, role: str,
               client_ip: str | None) -> dict:
    group, me = _membership(db, group_id, principal.user_id)
    _require(me, "owner", "manager")
    if role == "manager":
        _require(me, "owner")
    user = active_user_by_email(db, email, asker=principal.user_id)
    if db.get(GroupMember, (group.id, user.id)) is not None:
        raise Conflict("This person is already a member of the group.", code="already_member")
    db.add(GroupMember(group_id=group.id, user_id=user.id, role=role))
    db.flush()
    _audit(db, principal, "group_member_added", group, client_ip, user_id=str(user.id), role=role)
    return detail(db, group, me.role)


def _member(db: Session, group: Group, user_id: uuid.UUID) -> GroupMember:
    member = db.get(GroupMember, (group.id, user_id))
    if member is None:
        raise NotFound("No such member in this group.")
    return member


def change_role(db: Session, principal: Principal, group_id: uuid.UUID, user_id: uuid.UUID, *, role: str,
                client_ip: str | None) -> dict:
    group, me = _membership(db, group_id, principal.user_id)
    _require(me, "owner")
    member = _member(db, group, user_id)
    if member.role == "owner":
        raise ValidationFailed("The owner's role changes only by handing ownership over.", code="cannot_change_owner")
    member.role = role
    _audit(db, principal, "group_member_role", group, client_ip, user_id=str(user_id), role=member.role)
    return detail(db, group, me.role)


def remove_member(db: Session, principal: Principal, group_id: uuid.UUID, user_id: uuid.UUID, *,
                  client_ip: str | None) -> None:
    """Managers remove members, the owner removes anyone but themselves; everyone may leave."""
    group, me = _membership(db, group_id, principal.user_id)
    member = _member(db, group, user_id)
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
    db.delete(member)
    _audit(db, principal, action, group, client_ip, user_id=str(user_id))


def transfer_ownership(db: Session, principal: Principal, group_id: uuid.UUID, *, to_user: str,
                       client_ip: str | None) -> dict:
    group, me = _membership(db, group_id, principal.user_id)
    _require(me, "owner")
    if to_user == str(principal.user_id):
        raise ValidationFailed("You already own this group.", code="already_owner")
    try:
        member = db.get(GroupMember, (group.id, uuid.UUID(to_user)))
    except ValueError:
        member = None
    if member is None:
        raise ValidationFailed("Ownership goes to a member of the group; add them first.", code="not_a_member")
    member.role, me.role = "owner", "manager"
    group.owner_id = member.user_id
    _audit(db, principal, "group_owner_transferred", group, client_ip, user_id=to_user)
    return detail(db, group, "manager")
