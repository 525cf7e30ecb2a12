"""The one authorisation module: may this caller see or change this study?

Every function asks here; lists are filtered in SQL (`visible_studies`), never in Python.
Sharing (a later issue) extends `visible_studies` and `can` with share rows.
"""

from __future__ import annotations

import enum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from functions.common.errors import Forbidden, NotFound
from functions.common.index import Study
from functions.common.tokens import Principal

PATIENT_DATA_ROLES = ("researcher", "health_professional")


class Action(enum.StrEnum):
    READ = "read"          # search, view metadata, retrieve
    STORE = "store"        # add instances to the study
    DELETE = "delete"


def require_patient_data_access(principal: Principal) -> None:
    """Admins see no patient data by role; pending or rejected accounts see none at all."""
    if principal.role not in PATIENT_DATA_ROLES:
        raise Forbidden("This account has no access to patient data.", code="no_patient_data_access")
    if principal.status != "active":
        raise Forbidden("Your account is awaiting approval; studies open once an administrator approves it.",
                        code="account_pending")


def visible_studies(principal: Principal) -> Select:
    """Studies the caller may read, as a query to refine (filters, order, paging)."""
    return select(Study).where(Study.owner_id == principal.user_id)


def can(principal: Principal, action: Action, study: Study) -> bool:
    return study.owner_id == principal.user_id


def study_for(db: Session, principal: Principal, study_uid: str, action: Action) -> Study:
    """The study if the caller may do `action` on it; unknown and forbidden answer alike (404)."""
    study = db.scalar(select(Study).where(Study.study_uid == study_uid))
    if study is None or not can(principal, action, study):
        raise NotFound("No such study.")
    return study
