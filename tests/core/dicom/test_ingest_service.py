"""Ingest on its own: instances go to the real archive and the index, all or nothing each, and the
permission model (handed in as `may_store`) decides before the upload and again under the study lock."""

from __future__ import annotations

import copy
import uuid

import requests
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from sqlalchemy import select

from functions.common.access.policy import may_store, may_store_into
from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.ingest import NOT_YOURS, OTHER_PATIENT, Ingest
from functions.common.dicom.validation import FailureReason, check_instance, parse_part10
from functions.common.platform import db as database
from tests.support.world import World


def _series(n: int = 2, name: str = "CORE^INGEST"):
    series = ct_series(Patient(name=name, patient_id=f"CI-{uuid.uuid4().hex[:8]}"), slices=n, rows=16, columns=16)
    checked = []
    for ds in series:
        parsed = parse_part10(to_bytes(ds))
        check_instance(parsed)
        checked.append(parsed)
    return checked


def _in_archive(archive, sop_uid: str) -> bool:
    hits = requests.post(archive.url + "/tools/lookup", data=sop_uid, auth=tuple(archive.credentials), timeout=10)
    return any(hit["Type"] == "Instance" for hit in hits.json())


def test_a_series_is_stored_indexed_and_its_originals_sealed(db, world, archive):
    doctor = world.person()
    series = _series(2, name="SEALED^ORIGINALS")
    with Ingest(db, doctor.id, may_store=may_store(doctor.principal)) as ingest:
        for ds in series:
            ingest.add(ds, tag=str(ds.SOPInstanceUID))
        outcomes = ingest.finish()
    assert [o.stored for o in outcomes] == [True, True]
    assert [o.tag for o in outcomes] == [str(ds.SOPInstanceUID) for ds in series]
    study = db.scalar(select(Study).where(Study.study_uid == outcomes[0].study_uid))
    assert study.owner_id == doctor.id and study.num_instances == 2 and study.num_series == 1
    assert originals.keyword_value(originals.of_study(study), "PatientName") == "SEALED^ORIGINALS"
    authors = db.scalars(select(Instance.author_id).join(Series).where(Series.study_pk == study.id)).all()
    assert authors == [doctor.id, doctor.id]
    assert all(_in_archive(archive, o.sop_uid) for o in outcomes)


def test_a_study_the_permission_model_refuses_is_not_touched(db, world, archive):
    owner, stranger = world.person(), world.person()
    first, second = _series(2)
    with Ingest(db, owner.id, may_store=may_store(owner.principal)) as ingest:
        ingest.add(first)
        ingest.finish()
    with Ingest(db, stranger.id, may_store=may_store(stranger.principal)) as ingest:
        ingest.add(second)
        (outcome,) = ingest.finish()
    assert outcome.error.failure_reason == FailureReason.NOT_AUTHORIZED and outcome.error.message == NOT_YOURS
    assert not _in_archive(archive, outcome.sop_uid)
    assert db.scalar(select(Instance.id).where(Instance.sop_uid == outcome.sop_uid)) is None


def _ingest_while_created_meanwhile(db, uploader, creator, ds):
    """Ingest `ds` for `uploader` while, between the check before the upload and the index write, `creator`'s
    own request creates its study (as a row: another patient); the outcome and the studies `may_store` saw."""
    asked = []

    def meanwhile_created(session, study):
        asked.append(study)
        if study is None:  # before the upload: the other request creates the study right now
            with database.session_scope() as their_session:
                World(their_session).study(creator, study_uid=str(ds.StudyInstanceUID))
        return may_store_into(session, uploader.principal, study)

    with Ingest(db, uploader.id, may_store=meanwhile_created) as ingest:
        ingest.add(ds)
        (outcome,) = ingest.finish()
    assert db.scalar(select(Instance.id).where(Instance.sop_uid == outcome.sop_uid)) is None
    return outcome, asked


def test_the_permission_model_is_asked_again_under_the_study_lock(db, world, archive):
    """The study is new when the upload starts, but another user's by the time it is indexed: the
    instance is refused, removed from the archive again, and the other user's study is untouched."""
    uploader, other = world.person(), world.person()
    db.commit()  # the other user's own session must see their account
    (ds,) = _series(1)
    outcome, asked = _ingest_while_created_meanwhile(db, uploader, other, ds)
    assert asked[0] is None and asked[1].owner_id == other.id
    assert outcome.error.failure_reason == FailureReason.NOT_AUTHORIZED
    assert not _in_archive(archive, outcome.sop_uid)
    assert db.scalar(select(Study.owner_id).where(Study.study_uid == outcome.study_uid)) == other.id


def test_a_retry_of_a_stored_instance_succeeds_without_a_second_row(db, world, archive):
    doctor = world.person()
    (ds,) = _series(1)
    for _ in range(2):  # the same instance as sent again (ingest pseudonymises the dataset it is given)
        with Ingest(db, doctor.id, may_store=may_store(doctor.principal)) as ingest:
            ingest.add(copy.deepcopy(ds))
            (outcome,) = ingest.finish()
        assert outcome.stored
    study = db.scalar(select(Study).where(Study.study_uid == outcome.study_uid))
    assert study.num_instances == 1
    assert _in_archive(archive, outcome.sop_uid)


def test_the_patient_is_compared_again_under_the_study_lock(db, world, archive):
    """The study is new when the upload starts, but by the time it is indexed another request of the same
    uploader has created it for another patient: the instance is refused and removed from the archive."""
    uploader = world.person()
    db.commit()
    (ds,) = _series(1)
    outcome, asked = _ingest_while_created_meanwhile(db, uploader, uploader, ds)
    assert asked[0] is None and asked[1].owner_id == uploader.id
    assert outcome.error.failure_reason == FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS
    assert outcome.error.message == OTHER_PATIENT
    assert not _in_archive(archive, outcome.sop_uid)
