"""Study search over the index, shared by QIDO-RS (gateway) and the portal's study list (studies).

Patient name and ID are matched through keyed blind indexes, so the search never decrypts. Study dates are
stored shifted by a keyed number of days per owner (`date_shift`): a range of original dates becomes, per owner,
a range of stored ones, and one owner's order is the original order. A search therefore runs per source (the
caller's own studies; per other owner, those shared with the caller), each an index-ordered scan that stops after
the page (`ix_studies_owner_date_desc`, whose entries carry the filtered columns), and the sources are merged here
by original date: the page costs the same with 10,000 or 100,000 studies. Totals are exact when the page's scans
saw every match, else PostgreSQL's estimate, flagged (`Page.total_exact`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Executable, and_, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, defer
from sqlalchemy.sql.expression import ClauseElement

from functions.common.dicom.index import Study
from functions.common.platform.errors import ValidationFailed
from functions.common.security.blind_index import query_tokens
from functions.common.security.crypto import keyed_hash

SORTS = ("date", "-date", "uploaded", "-uploaded")
SHIFT_DAYS = 3650  # a shift is within ±10 years, never 0


@dataclass(frozen=True)
class StudyFilter:
    patient_name: str | None = None
    patient_id: str | None = None
    modality: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    study_uids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudySource:
    """One owner's part of what a caller may see (`access.policy.study_sources`): its condition holds only for
    studies of `owner_id`, so a search walks it along the (owner, date) index."""

    owner_id: uuid.UUID
    condition: ColumnElement[bool]


@dataclass(frozen=True)
class Page:
    """One page of a search, in order; `total` exact when `total_exact`, else a lower bound; `next_cursor` asks
    for the page after this one (None on the last page)."""

    studies: list[Study]
    total: int | None
    total_exact: bool
    next_cursor: str | None


# ------------------------------------------------------------------------------------------ shifted dates

@functools.lru_cache(maxsize=4096)
def date_shift(owner_id: uuid.UUID) -> int:
    """Days the owner's study dates are moved by in the index: keyed (nothing absolute shows without the key),
    the same for all of one owner's studies (ranges and order stay searchable), never 0."""
    k = int(keyed_hash(str(owner_id), purpose="study-date-shift")[:12], 16) % (2 * SHIFT_DAYS)
    return k - SHIFT_DAYS if k < SHIFT_DAYS else k - SHIFT_DAYS + 1


def _moved(day: dt.date | None, days: int) -> dt.date | None:
    if day is None:
        return None
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


def stored_date(day: dt.date | None, owner_id: uuid.UUID) -> dt.date | None:
    """The form of an original study date the index stores for this owner (None when out of the calendar)."""
    return _moved(day, date_shift(owner_id))


def original_date(study: Any) -> dt.date | None:
    """A study's original date, from its stored form (a Study, or a row with its owner_id and study_date)."""
    return _moved(study.study_date, -date_shift(study.owner_id))


def _bound(day: dt.date, shift: int) -> dt.date:
    """A range bound moved into an owner's stored dates, held at the calendar's end rather than overflowing."""
    return _moved(day, shift) or (dt.date.max if shift > 0 else dt.date.min)


# ------------------------------------------------------------------------------------------ query parsing

def parse_dicom_date_range(value: str, *, field: str) -> tuple[dt.date | None, dt.date | None]:
    """QIDO date matching: `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-` or `-YYYYMMDD` (dashes in dates allowed)."""
    def one(text: str) -> dt.date | None:
        text = text.strip().replace("-", "") if len(text.strip()) == 10 else text.strip()
        if not text:
            return None
        try:
            return dt.datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise ValidationFailed.field(field, "must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD") from None

    if len(value) == 10 and value[4] == "-" and value[7] == "-":  # an ISO date, not a range
        day = one(value)
        return day, day
    if "-" in value:
        start, end = value.split("-", 1)
        return one(start), one(end)
    day = one(value)
    return day, day


def _matching(f: StudyFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions that hold for every owner alike (all but the dates)."""
    conditions: list[ColumnElement[bool]] = []
    if f.patient_name:
        try:
            tokens = query_tokens(f.patient_name)
        except ValueError as e:
            raise ValidationFailed.field("PatientName", str(e)) from None
        if tokens:
            conditions.append(Study.name_tokens.contains(tokens))
    if f.patient_id:
        conditions.append(Study.patient_id_hash == keyed_hash(f.patient_id.strip(), purpose="patient-id"))
    if f.modality:
        conditions.append(Study.modalities.contains([f.modality.upper()]))
    if f.study_uids:
        conditions.append(Study.study_uid.in_(f.study_uids))
    return conditions


def _dated(f: StudyFilter, shift: int) -> list[ColumnElement[bool]]:
    """The date range of original dates as a range of one owner's stored dates."""
    conditions = []
    if f.date_from:
        conditions.append(Study.study_date >= _bound(f.date_from, shift))
    if f.date_to:
        conditions.append(Study.study_date <= _bound(f.date_to, shift))
    return conditions


# ------------------------------------------------------------------------------------------ order and cursors

@dataclass(frozen=True)
class _Order:
    """A sort: its column, direction, where undated studies go, and its key in original terms for the merge."""

    column: Any
    descending: bool
    shifted: bool  # the column holds shifted dates

    def clauses(self) -> tuple:
        col = self.column.desc().nulls_last() if self.descending else self.column.asc().nulls_first()
        # The tie-breaker runs with the index's direction, so a scan backwards along it serves the reverse order.
        return col, (Study.id.asc() if self.descending else Study.id.desc())

    def value(self, study: Any) -> Any:
        """The order's value of a study (or of a row with its id, owner_id and the order's column)."""
        return original_date(study) if self.shifted else study.created_at

    def key(self, study: Any) -> tuple:
        """Sort key in original terms: the same order as `clauses` within one owner, and across owners."""
        v, ident = self.value(study), study.id.int
        if self.descending:
            return (v is None, _neg(v), ident)
        return (v is not None, v if v is not None else 0, -ident)

    def after(self, value: Any, last: uuid.UUID, shift: int) -> ColumnElement[bool]:
        """Rows of one source after the cursor's (value, id), in its stored terms."""
        col, later_id = self.column, (Study.id > last if self.descending else Study.id < last)
        if value is None:  # undated: last when descending, first when ascending
            return and_(col.is_(None), later_id) if self.descending else or_(col.is_not(None), and_(col.is_(None),
                                                                                                      later_id))
        stored = _bound(value, shift) if self.shifted else value
        beyond = col < stored if self.descending else col > stored
        tail = [col.is_(None)] if self.descending else []
        return or_(beyond, and_(col == stored, later_id), *tail)


def _neg(v: dt.date | dt.datetime | None) -> Any:
    if v is None:
        return 0
    if isinstance(v, dt.datetime):
        return -v.timestamp()
    return -v.toordinal()


ORDERS = {
    "date": _Order(Study.study_date, True, True),
    "-date": _Order(Study.study_date, False, True),
    "uploaded": _Order(Study.created_at, True, False),
    "-uploaded": _Order(Study.created_at, False, False),
}


def _cursor(sort: str, study: Any) -> str:
    value = ORDERS[sort].value(study)
    raw = json.dumps({"s": sort, "v": value.isoformat() if value is not None else None, "i": str(study.id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    """The (value, id) a cursor of this sort stands for; a cursor of another sort or a damaged one is refused."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        parse: Callable[[str], Any] = dt.date.fromisoformat if ORDERS[sort].shifted else dt.datetime.fromisoformat
        value = parse(data["v"]) if data["v"] is not None else None
        if data["s"] != sort:
            raise ValueError(sort)
        return value, uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed.field("cursor", "is not a cursor of this list and sort; start from the first "
                                     "page") from None


# ------------------------------------------------------------------------------------------ the search

def search(db: Session, sources: list[StudySource], f: StudyFilter, *, sort: str = "date", limit: int,
           offset: int = 0, cursor: str | None = None, with_total: bool = False) -> Page:
    """The studies of `sources` (what a caller may read) that match `f`, in `sort` order: the page after `cursor`
    (if any) and `offset` more."""
    if sort not in ORDERS:
        raise ValidationFailed.field("sort", "must be one of " + ", ".join(SORTS))
    if not 1 <= limit <= 1000 or offset < 0:
        raise ValidationFailed.field("limit", "limit must be 1–1000 and offset ≥ 0")
    order, common = ORDERS[sort], _matching(f)
    after = _read_cursor(cursor, sort) if cursor else None
    if not sources:
        return Page([], 0 if with_total else None, True, None)
    # First the order keys of each source's first matches (one more than the page: whether anything follows),
    # read from the index alone; then the page's rows.
    branches = [_branch(source, f, common, order, after, offset + limit + 1) for source in sources]
    keys = sorted(db.execute(union_all(*branches)).all(), key=order.key)
    chosen = keys[offset:offset + limit]
    rows = {s.id: s for s in db.scalars(select(Study).where(Study.id.in_([k.id for k in chosen]))
                                        .options(defer(Study.name_tokens)))} if chosen else {}
    studies = [rows[k.id] for k in chosen if k.id in rows]
    total, exact = _total(db, sources, f, common, keys, offset + limit + 1) if with_total else (None, True)
    more = len(keys) > offset + limit
    return Page(studies, total, exact, _cursor(sort, chosen[-1]) if more and chosen else None)


def _branch(source: StudySource, f: StudyFilter, common: list, order: _Order, after: tuple | None, n: int):
    """One source's first `n` matches in order (their ids and order keys): an index-ordered scan of the owner's
    index entries (which carry the filtered columns) that stops after them."""
    shift = date_shift(source.owner_id)
    where = [source.condition, *common, *_dated(f, shift)]
    if after is not None:
        where.append(order.after(*after, shift))
    return select(Study.id, Study.owner_id, order.column).where(*where).order_by(*order.clauses()).limit(n)


def _total(db: Session, sources: list[StudySource], f: StudyFilter, common: list, keys: list,
           n: int) -> tuple[int, bool]:
    """How many match: exact from the page's own scans when every source had fewer than `n` (the page and all that
    follows it), else those counts plus PostgreSQL's estimate for the sources with more (flagged as inexact, and
    never less than what is known to exist). Counting 100,000 matches would rescan them on every page."""
    found: dict[uuid.UUID, int] = {}
    for k in keys:
        found[k.owner_id] = found.get(k.owner_id, 0) + 1
    more = [s for s in sources if found.get(s.owner_id, 0) >= n]
    if not more:
        return len(keys), True
    counted = sum(c for owner, c in found.items() if c < n)
    unbounded = union_all(*[select(Study.id).where(s.condition, *common, *_dated(f, date_shift(s.owner_id)))
                            for s in more])
    return counted + max(_estimated_rows(db, unbounded), n * len(more)), False


class _Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a statement: the planner's estimate of its rows, without running it."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def _estimated_rows(db: Session, statement: Any) -> int:
    plan = db.execute(_Explain(statement)).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
