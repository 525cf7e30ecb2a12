"""Strays: instances the archive may hold although the index does not, noted until they are removed.

An upload whose answer never came (the archive died or hung mid-request) may have been stored all the same,
and an upload whose indexing failed cannot be taken out of an archive that is down by then; a COMMIT whose
answer was lost leaves unknown whether the index holds its batch, so its uploads are kept. Such an instance is
never served (every read goes through the index), but the index and the archive must agree: each is noted
here. The client was told to retry, and its retry claims the note (the instance is indexed and kept); a note
no retry claimed within `SETTLE_AFTER` is acted on by a later ingest that reaches the archive, which removes
the instance unless the index holds it by then.

Noting needs the database, which may be down at that moment too: notes wait in the process (`note`) until the
next ingest writes them (`write`). Removal never races indexing: the ingest takes the notes of what it indexes
in its index transaction (`claim`), before it writes any row, while the sweep holds the notes it acts on
locked; a note the sweep acted on since tells the ingest its upload may be gone, and the ingest fails that
instance with a retry rather than index something the archive may no longer hold.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Collection

from sqlalchemy import String, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from functions.common.dicom.index import Instance
from functions.common.dicom.orthanc import ArchiveUnavailable, orthanc
from functions.common.platform.db import Base, discard, timestamp, unavailable

log = logging.getLogger(__name__)

SWEEP = 16                              # notes acted on per ingest, at most
SETTLE_AFTER = dt.timedelta(minutes=1)  # left alone this long for the client's retry (told to wait 5 s) to claim
FORGET_AFTER = dt.timedelta(hours=1)    # a removed note outlives any ingest that could still claim it

_unwritten: dict[str, str] = {}         # archive id -> SOP Instance UID, noted while the database was away
_unwritten_lock = threading.Lock()


class ArchiveStray(Base):
    """An instance the archive may hold unindexed; `removed_at` once the sweep took it out of the archive."""

    __tablename__ = "archive_strays"

    orthanc_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sop_uid: Mapped[str] = mapped_column(String(64))
    noted_at: Mapped[dt.datetime] = timestamp(default=True)
    removed_at: Mapped[dt.datetime | None] = timestamp(nullable=True)


def note(orthanc_id: str, sop_uid: str) -> None:
    """The archive may hold this instance and the index does not: written to the database by the next `write`."""
    with _unwritten_lock:
        _unwritten[orthanc_id] = sop_uid
    log.warning("an upload may be in the archive unindexed: noted as a stray", extra={"archive_id": orthanc_id})


def write(db: Session) -> None:
    """Write the notes this process holds, and commit; they stay in the process if the database is away."""
    with _unwritten_lock:
        notes = dict(_unwritten)
    if not notes:
        return
    db.execute(insert(ArchiveStray).values([{"orthanc_id": k, "sop_uid": v} for k, v in notes.items()])
               .on_conflict_do_update(index_elements=["orthanc_id"],
                                      set_={"removed_at": None, "noted_at": func.now()}))
    db.commit()
    with _unwritten_lock:
        for orthanc_id in notes:
            _unwritten.pop(orthanc_id, None)


def settle(db: Session, *, sweep: bool) -> None:
    """After an ingest: write the notes this process holds and, with `sweep` (the ingest reached the archive),
    act on a few; a database that went away meanwhile leaves them to a later ingest."""
    try:
        write(db)
        if sweep:
            sweep_notes(db)
    except Exception as e:
        if not unavailable(e):
            raise
        discard(db)


def claim(db: Session, orthanc_ids: Collection[str]) -> set[str]:
    """In an index transaction, before its rows: take the notes of the instances it indexes. Returns those the
    sweep removed from the archive since they were noted: the caller's upload of them may be gone."""
    if not orthanc_ids:
        return set()
    rows = db.execute(delete(ArchiveStray).where(ArchiveStray.orthanc_id.in_(list(orthanc_ids)))
                      .returning(ArchiveStray.orthanc_id, ArchiveStray.removed_at))
    return {orthanc_id for orthanc_id, removed_at in rows if removed_at is not None}


def sweep_notes(db: Session) -> None:
    """Remove from the archive up to `SWEEP` instances noted over `SETTLE_AFTER` ago that the index does not hold,
    forget those it does and old removed notes, and commit; stops early at an archive that does not answer."""
    notes = db.execute(select(ArchiveStray.orthanc_id, ArchiveStray.sop_uid, ArchiveStray.removed_at)
                       .where(or_(and_(ArchiveStray.removed_at.is_(None),
                                       ArchiveStray.noted_at < func.now() - SETTLE_AFTER),
                                  ArchiveStray.removed_at < func.now() - FORGET_AFTER))
                       .order_by(ArchiveStray.noted_at).limit(SWEEP)
                       .with_for_update(skip_locked=True)).all()  # another worker's sweep takes the others
    if not notes:
        db.commit()
        return
    indexed = {(sop, orthanc_id) for sop, orthanc_id in db.execute(
        select(Instance.sop_uid, Instance.orthanc_id).where(Instance.sop_uid.in_([n.sop_uid for n in notes])))}
    forget, removed = [], []
    for orthanc_id, sop_uid, removed_at in notes:
        if removed_at is not None or (sop_uid, orthanc_id) in indexed:
            forget.append(orthanc_id)
            continue
        try:
            orthanc().delete_instance(orthanc_id)
        except ArchiveUnavailable:
            break
        removed.append(orthanc_id)
    if forget:
        db.execute(delete(ArchiveStray).where(ArchiveStray.orthanc_id.in_(forget)))
    if removed:
        db.execute(update(ArchiveStray).where(ArchiveStray.orthanc_id.in_(removed)).values(removed_at=func.now()))
        log.info("unindexed uploads removed from the archive", extra={"count": len(removed)})
    db.commit()
