"""Study search on its own: filters over the blind indexes and columns, dates stored shifted per owner and
searched by their originals, order and paging (offset and cursor) merged across owners, capped totals, and the
QIDO date-range syntax."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from functions.common.access import policy
from functions.common.access.policy import study_sources, visible_studies
from functions.common.access.tables import StudyShare
from functions.common.dicom.index import Study
from functions.common.dicom.search import (
    StudyFilter,
    StudySource,
    date_shift,
    original_date,
    parse_dicom_date_range,
    search,
    stored_date,
)
from functions.common.platform.errors import ValidationFailed
from functions.common.security.blind_index import name_tokens
from functions.common.security.crypto import keyed_hash


def _own(person) -> StudySource:
    return StudySource(person.id, Study.owner_id == person.id)


def _dated(world, owner, day: dt.date | None, **columns) -> Study:
    """A study of `owner` whose original date is `day`, stored as ingest stores it."""
    return world.study(owner, study_date=stored_date(day, owner.id), **columns)


@pytest.fixture
def owner_studies(world):
    owner = world.person()
    rows = {
        "jane": _dated(world, owner, dt.date(2026, 1, 10), name_tokens=name_tokens("DOE^JANE"),
                       patient_id_hash=keyed_hash("PID-J", purpose="patient-id"), modalities=["CT"]),
        "john": _dated(world, owner, dt.date(2026, 3, 5), name_tokens=name_tokens("DOE^JOHN"),
                       patient_id_hash=keyed_hash("PID-K", purpose="patient-id"), modalities=["MR"]),
        "zoe": _dated(world, owner, None, name_tokens=name_tokens("Zoë^Ångström"), modalities=["CT", "SR"]),
    }
    return owner, rows


def _found(db, owner, f: StudyFilter, **paging) -> list[str]:
    found = search(db, [_own(owner)], f, **{"sort": "date", "limit": 10, **paging})
    return [s.study_uid for s in found.studies]


def test_filters_match_names_ids_modalities_and_original_dates(db, owner_studies):
    owner, rows = owner_studies
    uid = {k: s.study_uid for k, s in rows.items()}
    assert set(_found(db, owner, StudyFilter(patient_name="doe*"))) == {uid["jane"], uid["john"]}
    assert _found(db, owner, StudyFilter(patient_name="DOE^JA*")) == [uid["jane"]]
    assert _found(db, owner, StudyFilter(patient_name="zoe angstrom")) == [uid["zoe"]]
    assert _found(db, owner, StudyFilter(patient_id="PID-K")) == [uid["john"]]
    assert set(_found(db, owner, StudyFilter(modality="ct"))) == {uid["jane"], uid["zoe"]}
    assert _found(db, owner, StudyFilter(date_from=dt.date(2026, 2, 1))) == [uid["john"]]
    assert _found(db, owner, StudyFilter(date_from=dt.date(2026, 1, 10), date_to=dt.date(2026, 1, 10))) == [
        uid["jane"]]
    assert _found(db, owner, StudyFilter(study_uids=(uid["zoe"],))) == [uid["zoe"]]


def test_dates_are_stored_shifted_per_owner_and_read_back_as_the_originals(db, world, owner_studies):
    owner, rows = owner_studies
    other = world.person()
    shift = date_shift(owner.id)
    assert shift != 0 and abs(shift) <= 3650 and date_shift(other.id) != shift
    stored = db.scalar(select(Study.study_date).where(Study.id == rows["jane"].id))
    assert stored == dt.date(2026, 1, 10) + dt.timedelta(days=shift)
    assert original_date(rows["jane"]) == dt.date(2026, 1, 10) and original_date(rows["zoe"]) is None
    edge = dt.date(1, 1, 1)  # a date the shift would move out of the calendar is not stored
    assert stored_date(edge, owner.id) == (None if shift < 0 else edge + dt.timedelta(days=shift))


def test_newest_first_with_undated_last_and_a_total(db, owner_studies):
    owner, rows = owner_studies
    assert _found(db, owner, StudyFilter()) == [rows[k].study_uid for k in ("john", "jane", "zoe")]
    assert _found(db, owner, StudyFilter(), sort="-date") == [rows[k].study_uid for k in ("zoe", "jane", "john")]
    page = search(db, [_own(owner)], StudyFilter(), sort="date", limit=2, offset=1, with_total=True)
    assert page.total == 3 and page.total_exact
    assert [s.study_uid for s in page.studies] == [rows["jane"].study_uid, rows["zoe"].study_uid]


def test_owners_with_different_shifts_merge_newest_first_by_original_date(db, world):
    """Three owners whose shifts differ: the stored order is not the original one, the merged order is."""
    owners = [world.person() for _ in range(3)]
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=37 * i) for i in range(12)]
    made = {_dated(world, owners[i % 3], day).id: day for i, day in enumerate(days)}
    sources = [_own(o) for o in owners]
    found = search(db, sources, StudyFilter(), limit=100).studies
    assert [made[s.id] for s in found] == sorted(days, reverse=True)
    ranged = search(db, sources, StudyFilter(date_from=days[3], date_to=days[8]), limit=100).studies
    assert sorted(made[s.id] for s in ranged) == days[3:9]
    oldest = search(db, sources, StudyFilter(), sort="-date", limit=100).studies
    assert [made[s.id] for s in oldest] == sorted(days)


@pytest.mark.parametrize("sort", ["date", "-date", "uploaded", "-uploaded"])
def test_cursor_and_offset_pages_return_every_study_once_in_order(db, world, sort):
    owners = [world.person() for _ in range(2)]
    for i in range(11):
        _dated(world, owners[i % 2], dt.date(2021, 5, 1) + dt.timedelta(days=i // 3) if i % 4 else None)
    sources = [_own(o) for o in owners]
    whole = [s.id for s in search(db, sources, StudyFilter(), sort=sort, limit=100).studies]
    assert len(whole) == 11
    by_cursor, cursor = [], None
    while True:
        page = search(db, sources, StudyFilter(), sort=sort, limit=3, cursor=cursor)
        by_cursor += [s.id for s in page.studies]
        cursor = page.next_cursor
        if cursor is None:
            break
    by_offset = [s.id for o in range(0, 11, 4) for s in search(db, sources, StudyFilter(), sort=sort, limit=4,
                                                                offset=o).studies]
    assert by_cursor == whole and by_offset == whole


def test_a_cursor_of_another_sort_or_a_damaged_one_is_refused_by_field(db, owner_studies):
    owner, _ = owner_studies
    cursor = search(db, [_own(owner)], StudyFilter(), limit=1).next_cursor
    for bad, sort in ((cursor, "uploaded"), ("not-a-cursor", "date"), (cursor[:-4], "date")):
        with pytest.raises(ValidationFailed) as e:
            search(db, [_own(owner)], StudyFilter(), sort=sort, limit=1, cursor=bad)
        assert e.value.errors[0]["field"] == "cursor"


def test_totals_are_exact_when_the_page_saw_every_match_else_an_estimate_flagged(db, world):
    owners = [world.person() for _ in range(2)]
    for i in range(9):
        _dated(world, owners[i % 2], dt.date(2022, 1, 1) + dt.timedelta(days=i))
    sources = [_own(o) for o in owners]
    whole = search(db, sources, StudyFilter(), limit=20, with_total=True)
    assert (whole.total, whole.total_exact) == (9, True)
    last = search(db, sources, StudyFilter(), limit=4, offset=6, with_total=True)
    assert (last.total, last.total_exact) == (9, True)
    first = search(db, sources, StudyFilter(), limit=2, with_total=True)
    assert first.total_exact is False and first.total >= 2 * 3  # each source holds more than the page and one


@pytest.mark.parametrize("lookup_max", [0, 2000])  # shared studies found by walking each owner's, or by id
@pytest.mark.parametrize("scope", ["all", "mine", "shared"])
def test_searching_the_callers_sources_finds_exactly_the_visible_studies(db, world, monkeypatch, scope, lookup_max):
    """Own studies, shares to the caller and to a group of theirs from two owners, an own study shared to the
    caller's own group, and a share from an owner of the other role (which stays invisible)."""
    monkeypatch.setattr(policy, "LOOKUP_SHARES_MAX", lookup_max)
    me, a, b = world.person(), world.person(), world.person()
    researcher = world.person(role="researcher")
    group = world.group(b, me)
    mine = [world.study(me) for _ in range(2)]
    a_studies, b_studies = [world.study(a) for _ in range(3)], [world.study(b) for _ in range(3)]
    foreign = world.study(researcher)
    shares = [(a_studies[0], me, None, a), (a_studies[1], me, None, a), (b_studies[0], None, group, b),
              (b_studies[2], me, None, b), (foreign, me, None, researcher), (mine[0], None, world.group(me), me)]
    for study, user, grp, by in shares:
        db.add(StudyShare(id=uuid.uuid4(), study_id=study.id, user_id=user.id if user else None,
                          group_id=grp.id if grp else None, level="read", created_by=by.id))
    db.flush()
    expected = set(db.scalars(visible_studies(me.principal, scope).with_only_columns(Study.id)))
    found = search(db, study_sources(db, me.principal, scope), StudyFilter(), limit=100).studies
    assert {s.id for s in found} == expected and len(found) == len(expected)
    assert expected >= ({a_studies[0].id, b_studies[0].id, b_studies[2].id} if scope != "mine" else {mine[0].id})


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
