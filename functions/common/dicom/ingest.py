"""Ingest: how DICOM instances enter the platform, whichever door they came through (STOW-RS, a zip
import, the demo loader). Validation happens before; this stores each instance all or nothing.

One `Ingest` per request, pipelined: while the archive stores earlier instances (a few upload
threads; Orthanc stores concurrent requests in parallel), the request thread parses and
pseudonymises the next ones. Finished uploads are indexed in batches, one transaction each, so
an instance is either in the archive *and* the index or in neither:

- before an upload: the permission model must let the uploader store into the study (`may_store`:
  a new study becomes theirs; an existing one needs ownership or `contribute`), and the instance must
  be of the study's patient (one study, one patient: the keyed hash of the PatientID and the name's
  blind-index tokens; for a new study, those of its first instance);
- a retry of an instance already stored in the same study succeeds (the archive answers "already
  stored", the index keeps its row); a Study, Series or SOP Instance UID that is another study's fails
  with the same reason and comment whichever it is, and whoever's it is (`NOT_YOURS`: an outsider
  learns no more than that the instance cannot go there);
- an archive that is busy or down fails the instance, and the request's later ones at once, with
  `retry` set (the caller may answer 503); one that refuses it fails it for good; an upload whose
  answer never came may be stored all the same: it is noted as a stray (`strays`), removed by a
  later ingest unless a retry indexed it by then;
- after it: the batch's index rows are written under the study row lock, asking `may_store` and
  comparing the patient again (another request may have created the study in the meantime);
  whatever cannot be indexed is removed from the archive again if this upload created it (or noted
  as a stray, with the archive down), and reported failed; an unreachable database ends the request
  (`DatabaseUnavailable`), and a COMMIT cut off may have landed, so its uploads stay noted as strays;
- nothing is created before an instance is stored, so a request whose instances all fail leaves
  no study, series or patient row behind.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydicom import Dataset
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from functions.common.dicom import originals as sealed_originals
from functions.common.dicom import strays
from functions.common.dicom.index import Instance, Patient, Series, Study
from functions.common.dicom.intake import Header, PatientKey, pseudonymised
from functions.common.dicom.originals import Originals
from functions.common.dicom.orthanc import ArchiveRefused, ArchiveUnavailable, instance_id
from functions.common.dicom.search import stored_date
from functions.common.dicom.uploads import NotSent, held, remove, store
from functions.common.dicom.validation import FailureReason, InstanceRejected
from functions.common.platform import db as database
from functions.common.security import audit

log = logging.getLogger(__name__)

UPLOADS = 3                    # concurrent stores into the archive per request
WINDOW_BYTES = 64 << 20        # instances held in memory while they upload (at least one)
WINDOW_INSTANCES = 16
INDEX_BATCH = 16               # finished uploads indexed per transaction

# Every UID conflict answers alike: another user's study, or a series or instance UID of another study.
NOT_YOURS = "a UID of it is in a study you may not add it to; use new UIDs"
OTHER_PATIENT = "its patient differs from the study's: one study, one patient"
ARCHIVE_BUSY = "the image archive is busy or down; nothing was kept, retry"
INDEX_DOWN = "the index is unreachable; nothing was kept, retry"
NOT_INDEXED = "the instance could not be indexed; nothing was kept, try again"
ARCHIVE_SWEPT = "the image archive was tidied meanwhile; nothing was kept, retry"
BURNED_IN_RANK = {None: 0, "suspected": 1, "yes": 2}  # a study's flag only ever rises
MayStore = Callable[[Session, Study | None], bool]  # the permission model's answer (None: a new study)


@dataclass
class Outcome:
    """What became of one instance handed to `Ingest.add`."""

    tag: Any
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    error: InstanceRejected | None = None

    @property
    def stored(self) -> bool:
        return self.error is None


@dataclass
class _Upload:
    outcome: Outcome
    header: Header
    originals: Originals             # the replaced attributes, sealed under the study key at index time
    size: int
    future: Future
    archive_id: str                  # its id in the archive, known before the archive answers
    created_in_archive: bool = False
    burned_in: str | None = None     # deidentify's burned_in_flag: "yes", "suspected" or None


@dataclass
class _Batch:
    studies: dict[str, Study] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    created_series: set[uuid.UUID] = field(default_factory=set)

    @property
    def studies_by_id(self) -> dict[uuid.UUID, Study]:
        return {s.id: s for s in self.studies.values()}


class Ingest:
    """Store instances for `uploader_id` (the owner of studies it creates, the author of every instance);
    call `add` for each, then `finish` for their outcomes. `may_store` is the permission model's check."""

    def __init__(self, db: Session, uploader_id: uuid.UUID, *, may_store: MayStore) -> None:
        self.db = db
        self.uploader_id = uploader_id
        self.may_store = may_store
        self.outcomes: list[Outcome] = []
        self._uploads: collections.deque[_Upload] = collections.deque()
        self._finished: list[_Upload] = []
        self._held_bytes = 0
        self._pool: ThreadPoolExecutor | None = None
        self._archive_down = threading.Event()       # an upload found it down: the rest fail at once
        self._may_store_into: dict[str, bool] = {}   # study uid -> may this uploader add to it
        self._patients: dict[str, PatientKey] = {}    # study uid -> whom its instances must be of

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- intake

    def add(self, ds: Dataset, *, tag: Any = None) -> None:
        """Queue one validated instance; its outcome is known after `finish`."""
        outcome = Outcome(tag, str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID),
                          str(ds.SOPClassUID))
        self.outcomes.append(outcome)
        try:
            if self._archive_down.is_set():
                raise InstanceRejected(FailureReason.PROCESSING_FAILURE, ARCHIVE_BUSY, retry=True)
            self._check_study(outcome.study_uid)
            header, taken, data = pseudonymised(ds)
            if self._patients.setdefault(outcome.study_uid, header.patient) != header.patient:
                raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, OTHER_PATIENT)
        except InstanceRejected as e:
            outcome.error = e
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(UPLOADS, thread_name_prefix="archive-upload")
        archive_id = instance_id(str(ds.get("PatientID", "")), outcome.study_uid, outcome.series_uid, outcome.sop_uid)
        future = self._pool.submit(store, data, self._archive_down)
        self._uploads.append(_Upload(outcome, header, taken.originals, len(data), future, archive_id,
                                     burned_in=taken.burned_in))
        self._held_bytes += len(data)
        self._collect(wait=self._held_bytes > WINDOW_BYTES or len(self._uploads) > WINDOW_INSTANCES)

    def finish(self) -> list[Outcome]:
        """Wait for every upload, index what was stored; the outcomes in the order instances were added."""
        while self._uploads:
            self._collect(wait=True)
        self._index_finished()
        self.close()
        strays.settle(self.db, sweep=any(o.stored for o in self.outcomes))  # this request reached the archive
        return self.outcomes

    def close(self) -> None:
        """Stop without indexing (an error in the caller): whatever was uploaded is removed again."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # uploads under way finish first
            self._pool = None
        for upload in list(self._uploads) + self._finished:
            if upload.future.cancelled():
                continue
            if upload.future.exception() is None:
                archive_id, created = upload.future.result()
                if created:
                    remove(archive_id, upload.outcome.sop_uid)
            elif _maybe_stored(upload.future.exception()):
                strays.note(upload.archive_id, upload.outcome.sop_uid)
        self._uploads.clear()
        self._finished.clear()

    # ------------------------------------------------------------------------------ before upload

    def _check_study(self, study_uid: str) -> None:
        if study_uid not in self._may_store_into:
            study = self.db.scalar(select(Study).where(Study.study_uid == study_uid))
            self._may_store_into[study_uid] = self.may_store(self.db, study)
            if study is not None:
                self._patients[study_uid] = PatientKey.of_study(study)
        if not self._may_store_into[study_uid]:
            raise InstanceRejected(FailureReason.NOT_AUTHORIZED, NOT_YOURS)

    # ------------------------------------------------------------------------------- after upload

    def _collect(self, *, wait: bool) -> None:
        """Move finished uploads (in order) to the index queue; with `wait`, at least the oldest."""
        while self._uploads and (wait or self._uploads[0].future.done()):
            upload = self._uploads.popleft()
            wait = False
            try:
                upload.archive_id, upload.created_in_archive = upload.future.result()
            except ArchiveUnavailable as e:
                upload.outcome.error = InstanceRejected(FailureReason.PROCESSING_FAILURE, ARCHIVE_BUSY, retry=True)
                if _maybe_stored(e):
                    strays.note(upload.archive_id, upload.outcome.sop_uid)
            except ArchiveRefused:
                upload.outcome.error = InstanceRejected(FailureReason.PROCESSING_FAILURE,
                                                        "the image archive refused the instance; nothing was kept")
            self._held_bytes -= upload.size
            if upload.outcome.error is None:
                self._finished.append(upload)
        if len(self._finished) >= INDEX_BATCH:
            self._index_finished()

    def _index_finished(self) -> None:
        batch, self._finished = self._finished, []
        if not batch:
            return
        committing, down = False, None
        try:
            self._index(batch)
            committing = True
            self.db.commit()
        except Exception as e:
            database.discard(self.db)
            down = e if database.unavailable(e) else None
            if down is None:
                log.exception("indexing stored instances failed; removing them from the archive")
            error = InstanceRejected(FailureReason.PROCESSING_FAILURE, INDEX_DOWN if down else NOT_INDEXED,
                                     retry=down is not None)
            for upload in batch:
                if upload.outcome.error is None:
                    upload.outcome.error = error
        for upload in batch:
            if upload.outcome.error is None or not upload.created_in_archive:
                continue
            if down is not None and committing:  # the COMMIT may have landed: keep the copy, settle it later
                strays.note(upload.archive_id, upload.outcome.sop_uid)
            else:
                remove(upload.archive_id, upload.outcome.sop_uid)
        if down is not None:
            raise database.DatabaseUnavailable() from down

    def _index(self, batch: list[_Upload]) -> None:
        """One transaction: lock or create each study and series, then the instance rows and counters."""
        rows = _Batch()
        swept = strays.claim(self.db, [u.archive_id for u in batch])  # no sweep acts on these any more
        for u in batch:
            if u.archive_id in swept and not held(u.archive_id):  # a sweep removed it after this upload
                u.outcome.error = InstanceRejected(FailureReason.PROCESSING_FAILURE, ARCHIVE_SWEPT, retry=True)
        for study_uid in sorted({u.outcome.study_uid for u in batch if u.outcome.error is None}):  # one lock order
            first = next(u for u in batch if u.outcome.study_uid == study_uid)
            study = self._lock_study(study_uid, first.header)
            allowed, patient = self.may_store(self.db, study), PatientKey.of_study(study)
            for u in batch:
                if u.outcome.study_uid != study_uid:
                    continue
                if not allowed:
                    u.outcome.error = InstanceRejected(FailureReason.NOT_AUTHORIZED, NOT_YOURS)
                elif u.header.patient != patient:
                    u.outcome.error = InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, OTHER_PATIENT)
            if allowed:
                rows.studies[study_uid] = study
        keys = {uid: sealed_originals.study_key(study) for uid, study in rows.studies.items()}
        values, indexed, per_series, per_study = [], [], collections.Counter(), collections.Counter()
        modalities: dict[str, set[str]] = collections.defaultdict(set)
        burned_in: dict[str, str | None] = {}
        for upload in batch:
            o = upload.outcome
            if o.error is not None:
                continue
            study = rows.studies[o.study_uid]
            series = rows.series.get(o.series_uid) or self._series(study, o.series_uid, upload.header, rows)
            if series is None:
                o.error = InstanceRejected(FailureReason.NOT_AUTHORIZED, NOT_YOURS)
                continue
            key = keys[o.study_uid]
            indexed.append(upload)
            values.append({"id": uuid.uuid4(), "sop_uid": o.sop_uid, "series_pk": series.id,
                           "sop_class_uid": o.sop_class_uid, "orthanc_id": upload.archive_id, "size": upload.size,
                           "transfer_syntax": upload.header.transfer_syntax,
                           "author_id": self.uploader_id,
                           "originals_enc": sealed_originals.seal(key, upload.originals, study_uid=o.study_uid,
                                                                  sop_uid=o.sop_uid)})
            if study.originals_enc is None:
                study.originals_enc = sealed_originals.seal(key, upload.originals, study_uid=study.study_uid)
            if upload.header.modality:
                modalities[o.study_uid].add(upload.header.modality)
            if BURNED_IN_RANK.get(upload.burned_in, 0) > BURNED_IN_RANK.get(burned_in.get(o.study_uid), 0):
                burned_in[o.study_uid] = upload.burned_in
        inserted = set(self.db.scalars(insert(Instance).on_conflict_do_nothing(index_elements=["sop_uid"])
                                       .returning(Instance.id), values)) if values else set()
        for row, upload in zip(values, indexed, strict=True):
            if row["id"] in inserted:
                per_series[row["series_pk"]] += 1
                per_study[upload.outcome.study_uid] += 1
            elif self._indexed_in_its_study(upload.outcome):  # a retry, or sent twice: the index has it already
                upload.created_in_archive = False  # the archive's copy is the indexed one: never remove it
            else:  # the archive kept it under this study: removed again below
                upload.outcome.error = InstanceRejected(FailureReason.NOT_AUTHORIZED, NOT_YOURS)
        for series_pk, n in per_series.items():
            self.db.execute(update(Series).where(Series.id == series_pk)
                            .values(num_instances=Series.num_instances + n))
        for study_uid, n in per_study.items():
            study = rows.studies[study_uid]
            study.num_instances += n
            study.modalities = sorted({*study.modalities, *modalities[study_uid]})
            self._flag_burned_in(study, burned_in.get(study_uid))
        self._drop_empty(rows, per_series)

    def _flag_burned_in(self, study: Study, flag: str | None) -> None:
        """Raise the study's burned-in flag (never lower it: "yes" stays), audited the first time it is flagged."""
        if BURNED_IN_RANK.get(flag, 0) <= BURNED_IN_RANK.get(study.burned_in, 0):
            return
        first = study.burned_in is None
        study.burned_in = flag
        if first:
            audit.record(self.db, "study_burned_in", actor_id=self.uploader_id, client_ip=None,
                         target=f"study:{study.study_uid}", details={"flag": flag})

    def _drop_empty(self, rows: _Batch, per_series: collections.Counter) -> None:
        """Rows this batch created for instances that all failed go again: no empty study or series."""
        for series in rows.series.values():
            if series.id in rows.created_series and not per_series[series.id]:
                self.db.delete(series)
                rows.studies_by_id[series.study_pk].num_series -= 1
        for study in rows.studies.values():
            if study.num_instances == 0:
                patient_pk = study.patient_pk
                self.db.delete(study)
                self.db.flush()
                if not self.db.scalar(select(Study.id).where(Study.patient_pk == patient_pk).limit(1)):
                    self.db.execute(delete(Patient).where(Patient.id == patient_pk))

    def _indexed_in_its_study(self, outcome: Outcome) -> bool:
        """Whether the index holds this SOP Instance UID in the outcome's own study (not another one)."""
        stored_in = self.db.scalar(select(Study.study_uid).join(Series, Series.study_pk == Study.id)
                                   .join(Instance, Instance.series_pk == Series.id)
                                   .where(Instance.sop_uid == outcome.sop_uid))
        return stored_in == outcome.study_uid

    def _lock_study(self, study_uid: str, header: Header) -> Study:
        """The study row, created with a fresh data key if new, locked until the batch commits."""
        study = self.db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())
        if study is not None:
            return study
        pid_hash = header.patient_id_hash
        owner = self.uploader_id
        self.db.execute(insert(Patient).values(id=uuid.uuid4(), owner_id=owner, patient_id_hash=pid_hash)
                        .on_conflict_do_nothing())
        patient_pk = self.db.scalar(select(Patient.id).where(Patient.owner_id == owner,
                                                            Patient.patient_id_hash == pid_hash))
        _, wrapped = sealed_originals.new_study_key(study_uid)
        self.db.execute(insert(Study).values(
            id=uuid.uuid4(), study_uid=study_uid, owner_id=owner, patient_pk=patient_pk,
            patient_id_hash=pid_hash, name_tokens=header.name_tokens,
            study_date=stored_date(header.study_date, owner), modalities=[], num_series=0, num_instances=0,
            key_kek_id=wrapped.kek_id, key_wrapped=wrapped.wrapped,
        ).on_conflict_do_nothing())
        return self.db.scalar(select(Study).where(Study.study_uid == study_uid).with_for_update())

    def _series(self, study: Study, series_uid: str, header: Header, rows: _Batch) -> Series | None:
        created = self.db.scalar(insert(Series).values(
            id=uuid.uuid4(), series_uid=series_uid, study_pk=study.id, modality=header.modality,
            series_number=header.series_number, num_instances=0,
        ).on_conflict_do_nothing().returning(Series.id))
        if created is not None:
            study.num_series += 1
            rows.created_series.add(created)
        series = self.db.scalar(select(Series).where(Series.series_uid == series_uid))
        if series.study_pk != study.id:
            return None
        rows.series[series_uid] = series
        return series


def _maybe_stored(error: BaseException | None) -> bool:
    """Whether a store that failed so may have reached the archive all the same (its answer lost)."""
    return isinstance(error, ArchiveUnavailable) and not isinstance(error, NotSent)


def audit_stored(db: Session, *, actor_id: uuid.UUID, client_ip: str | None, outcomes: list[Outcome]) -> None:
    """One audit record per study that received instances in one request (not one per instance)."""
    counts = collections.Counter(o.study_uid for o in outcomes if o.stored)
    for study_uid, count in counts.items():
        audit.record(db, "study_store", actor_id=actor_id, client_ip=client_ip, target=f"study:{study_uid}",
                     details={"instances": count})

