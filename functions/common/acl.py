"""Groups and share rows: the data behind `authz` (who may read, contribute to, use or edit what)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from functions.common.db import Base
from functions.common.models import timestamp, uuid_pk

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


class StudyShare(Base):
    """A study shared with one user or one group at `read` or `contribute`."""

    __tablename__ = "study_shares"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="ck_study_shares_one_grantee"),
        CheckConstraint("level IN ('read', 'contribute')", name="ck_study_shares_level"),
        Index("uq_study_shares_user", "study_id", "user_id", unique=True, postgresql_where=text("user_id IS NOT NULL")),
        Index("uq_study_shares_group", "study_id", "group_id", unique=True,
              postgresql_where=text("group_id IS NOT NULL")),
        Index("ix_study_shares_user", "user_id", "study_id"),
        Index("ix_study_shares_group", "group_id", "study_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)


class ModelShare(Base):
    """A model shared with one researcher or one group at `use` or `edit`."""

    __tablename__ = "model_shares"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="ck_model_shares_one_grantee"),
        CheckConstraint("level IN ('use', 'edit')", name="ck_model_shares_level"),
        Index("uq_model_shares_user", "model_id", "user_id", unique=True, postgresql_where=text("user_id IS NOT NULL")),
        Index("uq_model_shares_group", "model_id", "group_id", unique=True,
              postgresql_where=text("group_id IS NOT NULL")),
        Index("ix_model_shares_user", "user_id", "model_id"),
        Index("ix_model_shares_group", "group_id", "model_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)
