"""The study index in PostgreSQL: patients, studies, series and instances, with identifying
attributes only as ciphertext (under a per-study data key) and keyed blind indexes for search."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from functions.common.platform.db import Base, timestamp, uuid_pk


class Patient(Base):
    """One patient as known to one owner (the same person uploaded by two users is two rows)."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("owner_id", "patient_id_hash"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    patient_id_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = timestamp(default=True)


class Study(Base):
    __tablename__ = "studies"
    __table_args__ = (
        Index("ix_studies_name_tokens", "name_tokens", postgresql_using="gin"),
        Index("ix_studies_modalities", "modalities", postgresql_using="gin"),
        # A search walks one owner's studies along these (either way) and stops after one page: by date, the
        # default, and by upload. They carry the columns searches filter on, so the walk reads no table row.
        Index("ix_studies_owner_date_desc", "owner_id", text("study_date DESC NULLS LAST"), "id",
              postgresql_include=["name_tokens", "modalities"]),
        Index("ix_studies_owner_uploaded_desc", "owner_id", text("created_at DESC"), "id",
              postgresql_include=["name_tokens", "modalities"]),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    study_uid: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    patient_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    # Searchable without decryption: keyed hashes of the patient ID and of name-component prefixes.
    patient_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    name_tokens: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    # Shifted by a keyed number of days per owner (`search.date_shift`): ranges and one owner's order stay
    # searchable, nothing absolute shows. Time and descriptions are only in the sealed originals.
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    modalities: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    num_series: Mapped[int] = mapped_column(Integer, default=0)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    # The per-study data key, wrapped by the key-encryption key; destroying it shreds the originals.
    key_kek_id: Mapped[str | None] = mapped_column(String(64))
    key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    originals_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # "yes" (an instance says BurnedInAnnotation YES) or "suspected" (a modality known for it, e.g. US, SC, OT,
    # without the attribute); None when nothing suggests identifying text in the pixels.
    burned_in: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = timestamp(default=True)


class Series(Base):
    __tablename__ = "series"

    id: Mapped[uuid.UUID] = uuid_pk()
    series_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str | None] = mapped_column(String(16))
    series_number: Mapped[int | None] = mapped_column(Integer)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)


class Instance(Base):
    __tablename__ = "instances"

    id: Mapped[uuid.UUID] = uuid_pk()
    sop_uid: Mapped[str] = mapped_column(String(64), unique=True)
    series_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    orthanc_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # As stored in the archive (big endian and deflated instances are stored explicit little endian); None for
    # instances indexed before migration 0011.
    transfer_syntax: Mapped[str | None] = mapped_column(String(64))
    originals_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Who stored it: the owner, or a user the study is shared with at `contribute` (e.g. an OHIF SR).
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = timestamp(default=True)
