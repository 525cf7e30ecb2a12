"""Taking series out of a study: the index first, then the archive, so nothing is ever served half-removed.

The series' rows go in the caller's transaction, and each of their instances is noted as a stray in the same
transaction; after the commit (`finish`) the archive's copies are removed and their notes marked removed. An
archive that is down at that moment leaves the notes to the strays' sweep (functions/common/dicom/strays.py): the
instances are never served meanwhile, since every read goes through the index.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import ArchiveUnavailable, orthanc
from functions.common.dicom.strays import ArchiveStray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Removed:
    """What `remove_series` took out of the index: the archive ids (with SOP UIDs) `finish` removes."""

    series: int
    instances: list[tuple[str, str]]  # (orthanc id, SOP Instance UID)


def remove_series(db: Session, study: Study, series_uids: Collection[str]) -> Removed:
    """Take these series of `study` out of the index (the study row locked), noting their instances as strays."""
    db.execute(select(Study.id).where(Study.id == study.id).with_for_update())
    rows = db.scalars(select(Series).where(Series.study_pk == study.id, Series.series_uid.in_(list(series_uids))))
    series = list(rows)
    if not series:
        return Removed(0, [])
    instances = [(orthanc_id, sop) for orthanc_id, sop in db.execute(
        select(Instance.orthanc_id, Instance.sop_uid).where(Instance.series_pk.in_([s.id for s in series])))]
    if instances:
        db.execute(insert(ArchiveStray).values([{"orthanc_id": o, "sop_uid": s} for o, s in instances])
                   .on_conflict_do_update(index_elements=["orthanc_id"],
                                          set_={"removed_at": None, "noted_at": func.now()}))
    db.execute(delete(Series).where(Series.id.in_([s.id for s in series])))  # its instances go with it
    study.num_series = max(0, study.num_series - len(series))
    study.num_instances = max(0, study.num_instances - len(instances))
    study.modalities = sorted({m for m in db.scalars(select(Series.modality).where(Series.study_pk == study.id)) if m})
    db.flush()
    return Removed(len(series), instances)


def finish(db: Session, removed: Removed) -> None:
    """After the index's commit: remove the archive's copies and mark their notes; the sweep does what is left."""
    done = []
    for orthanc_id, _ in removed.instances:
        try:
            orthanc().delete_instance(orthanc_id)
        except ArchiveUnavailable:
            log.warning("the image archive is away: removed instances left to the strays' sweep",
                        extra={"count": len(removed.instances) - len(done)})
            break
        done.append(orthanc_id)
    if done:
        db.execute(update(ArchiveStray).where(ArchiveStray.orthanc_id.in_(done)).values(removed_at=func.now()))
        db.commit()
