"""Groups and share rows: the data behind the permission model (`policy.py`): who may read, contribute to,
use or edit what."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from functions.common.platform.db import Base, timestamp, uuid_pk

GROUP_ROLES = ("owner", "manager", "member")
STUDY_LEVELS = ("read", "contribute")
MODEL_LEVELS = ("use", "edit")
GROUP_NAME_MAX = 100


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(GROUP_NAME_MAX))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = timestamp(default=True)


class GroupMember(Base):
    """One membership; the owner is a member too (role `owner`), so "my groups" is one lookup."""

    __tablename__ = "group_members"
    __table_args__ = (CheckConstraint("role IN ('owner', 'manager', 'member')", name="ck_group_members_role"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[dt.datetime] = timestamp(default=True)


def _share_args(table: str, resource: str, levels: tuple[str, ...]) -> tuple:
    """One grantee (a user or a group), a known level, one share per grantee and resource, lookups by grantee."""
    return (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name=f"ck_{table}_one_grantee"),
        CheckConstraint(f"level IN ({', '.join(repr(v) for v in levels)})", name=f"ck_{table}_level"),
        Index(f"uq_{table}_user", resource, "user_id", unique=True, postgresql_where=text("user_id IS NOT NULL")),
        Index(f"uq_{table}_group", resource, "group_id", unique=True, postgresql_where=text("group_id IS NOT NULL")),
        Index(f"ix_{table}_user", "user_id", resource),
        Index(f"ix_{table}_group", "group_id", resource),
    )


class _Share:
    """Columns every share has: whom it grants (one user or one group), at which level, since when, by whom."""

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)


class StudyShare(_Share, Base):
    """A study shared with one user or one group at `read` or `contribute`."""

    __tablename__ = "study_shares"
    # Who shared studies with a grantee, without reading every share (access.policy._sharers).
    __table_args__ = (*_share_args("study_shares", "study_id", STUDY_LEVELS),
                      Index("ix_study_shares_user_creator", "user_id", "created_by"),
                      Index("ix_study_shares_group_creator", "group_id", "created_by"))

    study_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))


class ModelShare(_Share, Base):
    """A model shared with one researcher or one group at `use` or `edit`."""

    __tablename__ = "model_shares"
    __table_args__ = _share_args("model_shares", "model_id", MODEL_LEVELS)

    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
