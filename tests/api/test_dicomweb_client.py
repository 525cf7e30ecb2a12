"""Interoperability: a DICOMweb client no one here wrote (dicomweb-client) against the gateway,
compared with Orthanc's own answers for the same data."""

from __future__ import annotations

import os
import uuid

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from mcc_local.dicomgen import Patient, ct_series

from tests.support.api_client import STRONG_PASSWORD


@pytest.fixture(scope="module")
def dw(factory, origin) -> DICOMwebClient:
    account = factory.create("researcher")
    session = requests.Session()
    session.verify, session.trust_env = os.environ["MCC_TEST_CA"], False
    r = session.post(f"{origin}/api/auth/login",
                     json={"email": account.email, "password": STRONG_PASSWORD, "client": "api"})
    session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return DICOMwebClient(url=f"{origin}/dicom-web", session=session)


@pytest.fixture(scope="module")
def orthanc_direct(archive) -> DICOMwebClient:
    session = requests.Session()
    session.auth, session.trust_env = tuple(archive.credentials), False
    return DICOMwebClient(url=archive.dicomweb_url, session=session)


@pytest.fixture(scope="module")
def stored(dw):
    tag = uuid.uuid4().hex[:6].upper()
    series = ct_series(Patient(name=f"INTEROP{tag}^ALEX", patient_id=f"IO-{tag}"), slices=3, rows=48, columns=48)
    response = dw.store_instances(series)
    assert len(response.ReferencedSOPSequence) == 3
    return series


def _uids(items, tag: str) -> set[str]:
    return {i[tag]["Value"][0] for i in items}


def test_search_finds_the_study_with_original_identifiers(dw, orthanc_direct, stored):
    ours = dw.search_for_studies(search_filters={"PatientID": stored[0].PatientID})
    assert _uids(ours, "0020000D") == {stored[0].StudyInstanceUID}
    assert ours[0]["00100010"]["Value"][0]["Alphabetic"] == str(stored[0].PatientName)
    theirs = orthanc_direct.search_for_studies(search_filters={"StudyInstanceUID": stored[0].StudyInstanceUID})
    assert ours[0]["0020000D"]["Value"] == theirs[0]["0020000D"]["Value"]
    assert ours[0]["00080020"]["Value"] == [stored[0].StudyDate]
    assert theirs[0]["00080020"]["Value"] != [stored[0].StudyDate]  # Orthanc holds the date shifted per patient
    assert ours[0]["00100010"] != theirs[0]["00100010"]  # Orthanc only holds the pseudonym


def test_series_and_instances_match_orthancs_own_answers(dw, orthanc_direct, stored):
    study = stored[0].StudyInstanceUID
    assert _uids(dw.search_for_series(study), "0020000E") == _uids(orthanc_direct.search_for_series(study),
                                                                   "0020000E")
    series = stored[0].SeriesInstanceUID
    ours = dw.search_for_instances(study, series)
    assert _uids(ours, "00080018") == {d.SOPInstanceUID for d in stored}
    assert _uids(ours, "00080018") == _uids(orthanc_direct.search_for_instances(study, series), "00080018")


def test_metadata_frames_and_instances_round_trip(dw, stored):
    first = stored[0]
    metadata = dw.retrieve_series_metadata(first.StudyInstanceUID, first.SeriesInstanceUID)
    assert {m["00080018"]["Value"][0] for m in metadata} == {d.SOPInstanceUID for d in stored}
    assert {m["00100020"]["Value"][0] for m in metadata} == {first.PatientID}
    (frame,) = dw.retrieve_instance_frames(first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID,
                                           frame_numbers=[1])
    assert frame == bytes(first.PixelData)
    instance = dw.retrieve_instance(first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID)
    assert instance.PatientName == first.PatientName
    assert instance.PixelData == first.PixelData
