"""The pipelined ingest behind STOW and zip import: what happens when the index fails after the
archive stored instances, when two requests store into one study at once, and that every
instance is in both the archive and the index or in neither."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from sqlalchemy import func, select, text

from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.ingest import NOT_YOURS
from functions.common.platform import db
from tests.support.dicomweb import stow


def _in_archive(archive, uids) -> set[str]:
    """Which of these SOP Instance UIDs Orthanc holds (asked by UID, whatever else it stores)."""
    auth = tuple(archive.credentials)
    return {u for u in uids if any(hit["Type"] == "Instance" for hit in requests.post(
        archive.url + "/tools/lookup", data=u, auth=auth, timeout=10).json())}


@pytest.fixture
def refuse_instance_rows(owner_engine):
    """A real database failure: a trigger that refuses index rows for the SOP instance UIDs given."""
    refused: list[str] = []

    def refuse(*uids: str) -> None:
        refused.extend(uids)
        values = ", ".join(f"'{u}'" for u in refused)
        with owner_engine.begin() as conn:
            conn.execute(text(f"""
                CREATE OR REPLACE FUNCTION mcc_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.sop_uid IN ({values}) THEN RAISE EXCEPTION 'refused by the test'; END IF;
                  RETURN NEW;
                END $$;
                DROP TRIGGER IF EXISTS mcc_test_refuse ON instances;
                CREATE TRIGGER mcc_test_refuse BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION mcc_test_refuse();
            """))

    yield refuse
    with owner_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS mcc_test_refuse ON instances; DROP FUNCTION IF EXISTS mcc_test_refuse()"))


def test_an_index_failure_removes_the_stored_instances_from_the_archive(factory, archive, refuse_instance_rows):
    doctor = factory.create("health_professional")
    series = ct_series(Patient(name="INDEX^FAILURE", patient_id=f"IF-{uuid.uuid4().hex[:6]}"), slices=3, rows=32,
                       columns=32)
    uids = [str(ds.SOPInstanceUID) for ds in series]
    refuse_instance_rows(uids[1])
    r = stow(doctor.client, series)
    assert r.status_code == 409, r.text  # one batch, one transaction: all three fail together
    failures = r.json()["00081198"]["Value"]
    assert sorted(f["00081155"]["Value"][0] for f in failures) == sorted(uids)
    assert {f["00081197"]["Value"][0] for f in failures} == {0x0110}
    assert not _in_archive(archive, uids)  # uploaded, then removed again
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Study)
                              .where(Study.study_uid == str(series[0].StudyInstanceUID))) == 0
        assert session.scalar(select(func.count()).select_from(Series)
                              .where(Series.series_uid == str(series[0].SeriesInstanceUID))) == 0


def test_instances_stored_before_an_index_failure_stay_whole(factory, archive, refuse_instance_rows):
    """Batches are indexed as they finish: a later batch failing does not undo an earlier one."""
    doctor = factory.create("health_professional")
    series = ct_series(Patient(name="LATE^FAILURE", patient_id=f"LF-{uuid.uuid4().hex[:6]}"), slices=20, rows=16,
                       columns=16)
    uids = [str(ds.SOPInstanceUID) for ds in series]
    refuse_instance_rows(uids[-1])
    r = stow(doctor.client, series)
    assert r.status_code == 202, r.text
    stored = {i["00081155"]["Value"][0] for i in r.json()["00081199"]["Value"]}
    failed = {i["00081155"]["Value"][0] for i in r.json()["00081198"]["Value"]}
    assert stored and failed and stored | failed == set(uids) and uids[-1] in failed
    in_archive = _in_archive(archive, uids)
    assert in_archive == stored
    with db.session_scope() as session:
        indexed = set(session.scalars(select(Instance.sop_uid).where(Instance.sop_uid.in_(uids))))
        study = session.scalar(select(Study).where(Study.study_uid == str(series[0].StudyInstanceUID)))
        assert indexed == stored and study.num_instances == len(stored)


def test_two_requests_storing_into_one_new_study_at_once(factory, archive):
    doctor = factory.create("health_professional")
    series = ct_series(Patient(name="PARALLEL^UPLOAD", patient_id=f"PU-{uuid.uuid4().hex[:6]}"), slices=24, rows=32,
                       columns=32)
    halves = [series[0::2], series[1::2] + series[:4]]  # overlapping: four instances are sent twice
    results: list = [None, None]

    def send(i: int) -> None:
        results[i] = stow(doctor.client, halves[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    uids = {str(ds.SOPInstanceUID) for ds in series}
    assert _in_archive(archive, uids) == uids
    with db.session_scope() as session:
        study = session.scalar(select(Study).where(Study.study_uid == str(series[0].StudyInstanceUID)))
        assert study.num_instances == 24 and study.num_series == 1 and study.modalities == ["CT"]
        assert session.scalar(select(func.count()).select_from(Instance).where(Instance.sop_uid.in_(uids))) == 24
    listed = doctor.client.get("/api/studies", params={"patient_id": series[0].PatientID}).json()
    assert listed["total"] == 1 and listed["items"][0]["num_instances"] == 24


def test_a_sop_instance_uid_already_in_another_study_is_refused_and_not_archived(factory, archive):
    doctor = factory.create("health_professional")
    [first] = ct_series(Patient(name="UID^REUSE", patient_id=f"UR-{uuid.uuid4().hex[:6]}"), slices=1, rows=16,
                        columns=16)
    assert stow(doctor.client, [first]).status_code == 200
    [other] = ct_series(Patient(name="UID^REUSE"), slices=1, rows=16, columns=16)
    other.SOPInstanceUID = other.file_meta.MediaStorageSOPInstanceUID = first.SOPInstanceUID
    before = len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())
    r = stow(doctor.client, [other])
    assert r.status_code == 409, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081197"]["Value"] == [0x0124] and failure["00000902"]["Value"] == [NOT_YOURS]
    after = len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())
    assert after == before  # uploaded under the new study, then removed again
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Study)
                              .where(Study.study_uid == str(other.StudyInstanceUID))) == 0
    assert stow(doctor.client, [first]).status_code == 200  # the original's retry still succeeds


def test_an_attribute_that_cannot_be_decoded_refuses_the_instance_and_stores_nothing(factory, archive):
    """Only what the platform reads is decoded (the rest reaches the archive byte for byte): a value it
    reads and cannot decode refuses that instance, and its neighbours are stored."""
    doctor = factory.create("health_professional")
    good, bad = ct_series(Patient(name="DECODE^CASE", patient_id=f"DC-{uuid.uuid4().hex[:6]}"), slices=2, rows=16,
                          columns=16)
    bad._dict[Tag(0x00200011)] = RawDataElement(Tag(0x00200011), "IS", 4, b"abc ", 0, False, True)  # SeriesNumber
    r = stow(doctor.client, [good, bad])
    assert r.status_code == 202, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081155"]["Value"] == [str(bad.SOPInstanceUID)]
    assert failure["00081197"]["Value"] == [0xC000] and "cannot be decoded" in failure["00000902"]["Value"][0]
    assert _in_archive(archive, [str(good.SOPInstanceUID), str(bad.SOPInstanceUID)]) == {str(good.SOPInstanceUID)}
