"""Accounts, groups and studies made as rows in PostgreSQL, the way the shared core's services find
them (for tests that call the services directly, without HTTP)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from functions.common.access.tables import Group, GroupMember
from functions.common.accounts.tables import User
from functions.common.dicom import originals
from functions.common.dicom.index import Patient, Study
from functions.common.platform.db import utcnow
from functions.common.security.tokens import Principal


@dataclass
class Person:
    user: User
    principal: Principal

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


class World:
    """Accounts, groups and studies made as rows, the way the services find them."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def person(self, role: str = "health_professional", status: str = "active") -> Person:
        user = User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex[:12]}@core.test", name="Core Test", role=role,
                    status=status, email_verified=True, created_at=utcnow())
        self.db.add(user)
        self.db.flush()
        return Person(user, Principal.acting_for(user.id, role=role, status=status))

    def group(self, owner: Person, *members: Person) -> Group:
        group = Group(id=uuid.uuid4(), name="core group", owner_id=owner.id)
        self.db.add(group)
        self.db.flush()
        self.db.add(GroupMember(group_id=group.id, user_id=owner.id, role="owner"))
        for m in members:
            self.db.add(GroupMember(group_id=group.id, user_id=m.id, role="member"))
        self.db.flush()
        return group

    def study(self, owner: Person, **columns) -> Study:
        """An indexed study of `owner` (no instances in the archive: the permission model needs none)."""
        patient = Patient(id=uuid.uuid4(), owner_id=owner.id, patient_id_hash=uuid.uuid4().hex)
        self.db.add(patient)
        self.db.flush()
        study_uid = columns.pop("study_uid", f"2.25.{uuid.uuid4().int}")
        _, key = originals.new_study_key(study_uid)
        study = Study(id=uuid.uuid4(), study_uid=study_uid,
                      owner_id=owner.id, patient_pk=patient.id,
                      patient_id_hash=columns.pop("patient_id_hash", patient.patient_id_hash),
                      name_tokens=columns.pop("name_tokens", []), modalities=columns.pop("modalities", ["CT"]),
                      num_series=1, num_instances=1, key_kek_id=key.kek_id, key_wrapped=key.wrapped, **columns)
        self.db.add(study)
        self.db.flush()
        return study
