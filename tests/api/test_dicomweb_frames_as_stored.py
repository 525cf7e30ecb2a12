"""Frames of a JPEG 2000 instance, asked for in any syntax (dicomweb-client's default `transfer-syntax=*`, or
`type="*/*"`), come back as stored with PS3.18's media type: Orthanc 1.10 cannot decode JPEG 2000, and asked for its
default explicit little endian it failed, which the gateway answered 503 "archive busy" after four attempts."""

from __future__ import annotations

import os

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from tests.support.api_client import STRONG_PASSWORD
from tests.support.dicomweb import stow

SAMPLES = ["MR_small_jp2klossless.dcm", "JPEG2000.dcm"]  # JPEG 2000 lossless and lossy, as pydicom ships them


@pytest.fixture(scope="module")
def stored(factory, origin) -> tuple[DICOMwebClient, object, dict[str, pydicom.Dataset]]:
    doctor = factory.create("health_professional")
    samples = {name: pydicom.dcmread(get_testdata_file(name)) for name in SAMPLES}
    for ds in samples.values():  # each its own request: a refusal names the file
        assert stow(doctor.client, [ds]).status_code == 200
    session = requests.Session()
    session.verify, session.trust_env = os.environ["MCC_TEST_CA"], False
    r = session.post(f"{origin}/api/auth/login",
                     json={"email": doctor.email, "password": STRONG_PASSWORD, "client": "api"})
    session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return DICOMwebClient(url=f"{origin}/dicom-web", session=session), doctor, samples


@pytest.mark.parametrize("name", SAMPLES)
def test_dicomweb_client_gets_the_stored_jpeg_2000_frame_byte_for_byte(stored, name):
    dw, _, samples = stored
    ds = samples[name]
    [frame] = dw.retrieve_instance_frames(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                          str(ds.SOPInstanceUID), frame_numbers=[1])
    expected = next(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))
    assert frame.rstrip(b"\0") == expected.rstrip(b"\0")  # a fragment's even-length padding aside


@pytest.mark.parametrize("accept", ['multipart/related; type="application/octet-stream"; transfer-syntax=*',
                                    'multipart/related; type="*/*"; transfer-syntax=*'])
def test_any_syntax_answers_the_stored_one_with_its_media_type(stored, accept):
    _, doctor, samples = stored
    ds = samples["JPEG2000.dcm"]
    r = doctor.client.get(f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/"
                          f"{ds.SOPInstanceUID}/frames/1", headers={"Accept": accept})
    assert r.status_code == 200, r.text[:300]
    assert "image/jp2" in r.headers["Content-Type"] and str(ds.file_meta.TransferSyntaxUID) in r.headers["Content-Type"]
