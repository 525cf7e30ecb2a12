"""AI models, their versions and the uploads on their way into a version: the rows the registry, sharing,
publication and (later) inference read."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from functions.common.platform.db import Base, timestamp, uuid_pk


class VersionStatus(enum.StrEnum):
    VALIDATING = "validating"   # stored, its smoke run in the sandbox not finished
    READY = "ready"             # may be activated, published and run
    FAILED = "failed"           # its smoke run failed: no bundle kept, never runs


class AiModel(Base):
    __tablename__ = "models"

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(4000))
    architecture: Mapped[str] = mapped_column(String(200), default="", server_default="")
    task: Mapped[str] = mapped_column(String(32), default="segmentation", server_default="segmentation")
    modality: Mapped[str] = mapped_column(String(16), default="", server_default="")
    labels: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    # The version its service runs; the registry deploys it (and the published one) through the deployer.
    active_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = timestamp(default=True)
    updated_at: Mapped[dt.datetime] = timestamp(default=True)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        # At most one published version per model: all approved health professionals may run it.
        Index("uq_model_versions_published", "model_id", unique=True, postgresql_where=text("published")),
        # A bundle's content is its address: the same bundle is one version of a model, never two.
        Index("uq_model_versions_digest", "model_id", "digest", unique=True,
              postgresql_where=text("status <> 'failed'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.READY, server_default=VersionStatus.READY)
    stage: Mapped[str | None] = mapped_column(String(16))
    digest: Mapped[str | None] = mapped_column(String(64))            # SHA-256 of the bundle zip
    bundle_key: Mapped[str | None] = mapped_column(String(300))       # its object-storage key
    size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    manifest: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    files: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    problems: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)
    finished_at: Mapped[dt.datetime | None] = timestamp(nullable=True)


class ModelUpload(Base):
    """A weight file or bundle archive arriving in chunks (each chunk one object) before it joins a version."""

    __tablename__ = "model_uploads"

    id: Mapped[uuid.UUID] = uuid_pk()
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    parts: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))  # object keys
    expected_sha256: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = timestamp(default=True)
    expires_at: Mapped[dt.datetime] = timestamp()
