"""STOW conflicts: one study holds one patient, whoever stores into it; and a UID that is already some other
study's is refused with one reason and comment, whichever UID it is and whoever's study it is, so a refusal
tells an outsider nothing about what exists where."""

from __future__ import annotations

import uuid

import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series

from functions.common.dicom.ingest import NOT_YOURS, OTHER_PATIENT
from tests.support.dicomweb import stow


def _instance(patient: Patient, *, sop_uid: str | None = None, **uids):
    (ds,) = ct_series(patient, slices=1, rows=16, columns=16, **uids)
    if sop_uid:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    return ds


def _failure(r) -> tuple[int, str]:
    (failure,) = r.json()["00081198"]["Value"]
    return failure["00081197"]["Value"][0], failure["00000902"]["Value"][0]


def _archived(archive) -> int:
    return len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())


@pytest.fixture
def shared_study(factory):
    """An owner's study of one patient, shared with a colleague at `contribute`."""
    owner, colleague = factory.create("health_professional"), factory.create("health_professional")
    patient = Patient(name="Núñez^Carmen", patient_id=f"ONE-{uuid.uuid4().hex[:8]}")
    first = _instance(patient)
    assert stow(owner.client, [first]).status_code == 200
    r = owner.client.post(f"/api/shares/studies/{first.StudyInstanceUID}",
                          json={"email": colleague.email, "level": "contribute"})
    assert r.status_code == 201, r.text
    return owner, colleague, patient, first


@pytest.mark.parametrize("who", ["colleague", "owner"])
@pytest.mark.parametrize("other", ["another patient", "another ID, same name", "same ID, another name"])
def test_an_instance_of_another_patient_is_refused_from_anyone(shared_study, archive, who, other):
    owner, colleague, patient, first = shared_study
    client = (colleague if who == "colleague" else owner).client
    stranger = {"another patient": Patient(name="OTHER^PERSON", patient_id="SOMEONE-ELSE"),
                "another ID, same name": Patient(name=patient.name, patient_id="SOMEONE-ELSE"),
                "same ID, another name": Patient(name="OTHER^PERSON", patient_id=patient.patient_id)}[other]
    before = _archived(archive)
    r = stow(client, [_instance(stranger, study_uid=str(first.StudyInstanceUID))])
    assert r.status_code == 409, r.text
    assert _failure(r) == (0xA900, OTHER_PATIENT)
    assert _archived(archive) == before  # refused before the archive saw it
    metadata = owner.client.get(f"/dicom-web/studies/{first.StudyInstanceUID}/metadata").json()
    assert {m["00100020"]["Value"][0] for m in metadata} == {patient.patient_id}


def test_the_same_patient_written_differently_is_still_that_patient(shared_study):
    owner, colleague, patient, first = shared_study
    same = Patient(name="NUNEZ^carmen", patient_id=patient.patient_id)  # case and accents fold
    r = stow(colleague.client, [_instance(same, study_uid=str(first.StudyInstanceUID))])
    assert r.status_code == 200, r.text


def test_a_new_study_is_of_the_patient_of_its_first_instance(doctor):
    study_uid = f"2.25.{uuid.uuid4().int}"
    first = _instance(Patient(name="FIRST^PATIENT", patient_id=f"F-{uuid.uuid4().hex[:8]}"), study_uid=study_uid)
    second = _instance(Patient(name="SECOND^PATIENT", patient_id=f"S-{uuid.uuid4().hex[:8]}"), study_uid=study_uid)
    r = stow(doctor.client, [first, second])
    assert r.status_code == 202, r.text
    assert [i["00081155"]["Value"][0] for i in r.json()["00081199"]["Value"]] == [str(first.SOPInstanceUID)]
    assert _failure(r) == (0xA900, OTHER_PATIENT)


def test_every_uid_conflict_answers_alike(factory, archive):
    owner, outsider = factory.create("health_professional"), factory.create("health_professional")
    theirs = _instance(Patient(name="UID^OWNER", patient_id=f"U-{uuid.uuid4().hex[:8]}"))
    assert stow(owner.client, [theirs]).status_code == 200
    mine = Patient(name="UID^OUTSIDER", patient_id=f"X-{uuid.uuid4().hex[:8]}")
    attempts = {
        "into their study": _instance(mine, study_uid=str(theirs.StudyInstanceUID)),
        "their series in a new study": _instance(mine, series_uid=str(theirs.SeriesInstanceUID)),
        "their instance in a new study": _instance(mine, sop_uid=str(theirs.SOPInstanceUID)),
    }
    own = _instance(Patient(name="UID^OUTSIDER", patient_id=mine.patient_id))
    assert stow(outsider.client, [own]).status_code == 200
    attempts["my own instance in another new study"] = _instance(mine, sop_uid=str(own.SOPInstanceUID))
    before = _archived(archive)
    answers = {name: stow(outsider.client, [ds]) for name, ds in attempts.items()}
    assert {name: (r.status_code, _failure(r)) for name, r in answers.items()} == {
        name: (409, (0x0124, NOT_YOURS)) for name in attempts}
    assert _archived(archive) == before
    metadata = owner.client.get(f"/dicom-web/studies/{theirs.StudyInstanceUID}/metadata").json()
    assert {m["00100020"]["Value"][0] for m in metadata} == {theirs.PatientID}
