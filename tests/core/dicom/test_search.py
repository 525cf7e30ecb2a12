"""Study search on its own: filters over the blind indexes and columns, order and paging, and the
QIDO date-range syntax."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from functions.common.dicom.index import Study
from functions.common.dicom.search import StudyFilter, apply, page, parse_dicom_date_range
from functions.common.platform.errors import ValidationFailed
from functions.common.security.blind_index import name_tokens
from functions.common.security.crypto import keyed_hash


@pytest.fixture
def owner_studies(world):
    owner = world.person()
    rows = {
        "jane": world.study(owner, name_tokens=name_tokens("DOE^JANE"), study_date=dt.date(2026, 1, 10),
                            patient_id_hash=keyed_hash("PID-J", purpose="patient-id"), modalities=["CT"]),
        "john": world.study(owner, name_tokens=name_tokens("DOE^JOHN"), study_date=dt.date(2026, 3, 5),
                            patient_id_hash=keyed_hash("PID-K", purpose="patient-id"), modalities=["MR"]),
        "zoe": world.study(owner, name_tokens=name_tokens("Zoë^Ångström"), study_date=None, modalities=["CT", "SR"]),
    }
    return owner, rows


def _found(db, owner, f: StudyFilter, **paging) -> list[str]:
    query = apply(select(Study).where(Study.owner_id == owner.id), f)
    studies, _ = page(db, query, **{"sort": "date", "limit": 10, "offset": 0, "with_total": False, **paging})
    return [s.study_uid for s in studies]


def test_filters_match_names_ids_modalities_and_dates(db, owner_studies):
    owner, rows = owner_studies
    uid = {k: s.study_uid for k, s in rows.items()}
    assert set(_found(db, owner, StudyFilter(patient_name="doe*"))) == {uid["jane"], uid["john"]}
    assert _found(db, owner, StudyFilter(patient_name="DOE^JA*")) == [uid["jane"]]
    assert _found(db, owner, StudyFilter(patient_name="zoe angstrom")) == [uid["zoe"]]
    assert _found(db, owner, StudyFilter(patient_id="PID-K")) == [uid["john"]]
    assert set(_found(db, owner, StudyFilter(modality="ct"))) == {uid["jane"], uid["zoe"]}
    assert _found(db, owner, StudyFilter(date_from=dt.date(2026, 2, 1))) == [uid["john"]]
    assert _found(db, owner, StudyFilter(study_uids=(uid["zoe"],))) == [uid["zoe"]]


def test_newest_first_with_undated_last_and_a_total(db, owner_studies):
    owner, rows = owner_studies
    assert _found(db, owner, StudyFilter()) == [rows[k].study_uid for k in ("john", "jane", "zoe")]
    assert _found(db, owner, StudyFilter(), sort="-date") == [rows[k].study_uid for k in ("zoe", "jane", "john")]
    studies, total = page(db, select(Study).where(Study.owner_id == owner.id), sort="date", limit=1, offset=1,
                          with_total=True)
    assert total == 3 and [s.study_uid for s in studies] == [rows["jane"].study_uid]


def test_a_name_query_with_an_inner_wildcard_is_refused_by_field(db, owner_studies):
    owner, _ = owner_studies
    with pytest.raises(ValidationFailed) as e:
        _found(db, owner, StudyFilter(patient_name="D*E"))
    assert e.value.errors[0]["field"] == "PatientName"


@pytest.mark.parametrize("value, expected", [
    ("20260110", (dt.date(2026, 1, 10), dt.date(2026, 1, 10))),
    ("2026-01-10", (dt.date(2026, 1, 10), dt.date(2026, 1, 10))),
    ("20260101-20260131", (dt.date(2026, 1, 1), dt.date(2026, 1, 31))),
    ("20260101-", (dt.date(2026, 1, 1), None)),
    ("-20260131", (None, dt.date(2026, 1, 31))),
])
def test_qido_date_ranges(value, expected):
    assert parse_dicom_date_range(value, field="StudyDate") == expected


def test_a_bad_date_names_its_field():
    with pytest.raises(ValidationFailed) as e:
        parse_dicom_date_range("2026-13", field="StudyDate")
    assert e.value.errors == [{"field": "StudyDate", "message": "must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD"}]
