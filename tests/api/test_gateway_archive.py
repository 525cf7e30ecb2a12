"""The gateway and the archive behind it: what Orthanc refuses becomes the platform's own problem (nothing
of Orthanc's error bodies reaches a client), an archive that is down is a 503 with Retry-After, and the
audit chain's lock is never held while a request waits on Orthanc."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
from mcc_local.dicomgen import Patient, ct_series
from sqlalchemy import text

from functions.common.platform import db
from functions.common.security.audit import _LOCK_KEY
from tests.support.dicomweb import DICOM_PARTS, FRAME_PARTS, instance_path, stored_slice, stow
from tests.support.problem import assert_problem

ORTHANC_WORDS = ("Orthanc", "HttpError", "HttpStatus", "OrthancStatus", "Uri", "Method", "Details", "127.0.0.1")


@pytest.fixture(scope="module")
def image(doctor):
    return stored_slice(doctor.client, "ARCHIVE^ERRORS")


def assert_clean(r, status: int, code: str) -> dict:
    """A problem of the platform's own, with nothing of Orthanc's answer in it."""
    body = assert_problem(r, status, code)
    assert set(body) <= {"type", "title", "status", "detail", "code", "errors"}, body
    assert not [w for w in ORTHANC_WORDS if w in r.text], r.text
    return body


@contextmanager
def paused(archive):
    """Orthanc stopped in its tracks (SIGSTOP): calls to it connect, then wait, as on a hung archive."""
    pid = archive.processes.record("orthanc").pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_frames_orthanc_cannot_produce_are_a_clean_problem(doctor, image):
    jpeg_frames = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.50'
    for path in ("/frames/1", "/frames/7"):  # a transfer syntax Orthanc cannot transcode to; a frame it lacks
        accept = jpeg_frames if path == "/frames/1" else FRAME_PARTS
        r = doctor.client.get(instance_path(image) + path, headers={"Accept": accept})
        assert assert_clean(r, 406, "not_acceptable")["errors"][0]["field"] == "Accept"


def test_a_frame_that_cannot_be_rendered_is_a_clean_404(doctor, image):
    r = doctor.client.get(instance_path(image) + "/frames/7/rendered", headers={"Accept": "image/jpeg"})
    assert_clean(r, 404, "not_found")


def test_a_bad_search_value_is_refused_by_the_gateway(doctor, image):
    r = doctor.client.get(f"/dicom-web/studies/{image.StudyInstanceUID}/series", params={"limit": "abc"})
    assert assert_clean(r, 422, "validation")["errors"][0]["field"] == "limit"


def test_every_read_from_an_archive_that_is_down_is_a_503_with_retry_after(doctor, image, archive):
    study = f"/dicom-web/studies/{image.StudyInstanceUID}"
    reads = {
        study + "/metadata": "application/dicom+json",
        study + "/series": "application/dicom+json",
        instance_path(image): DICOM_PARTS,
        instance_path(image) + "/frames/1": FRAME_PARTS,
        instance_path(image) + "/rendered": "image/jpeg",
    }
    archive.stop()
    try:
        for path, accept in reads.items():
            r = doctor.client.get(path, headers={"Accept": accept})
            assert_clean(r, 503, "unavailable")
            assert int(r.headers["Retry-After"]) > 0, path
    finally:
        archive.start()
    assert doctor.client.get(study + "/metadata").status_code == 200


def _audit_lock_is_free() -> bool:
    """Whether another transaction can take the audit chain's lock right now (and lets it go again)."""
    with db.engine().begin() as conn:
        return bool(conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


@pytest.mark.parametrize("read", ["metadata", "frames", "rendered", "stow"])
def test_the_audit_lock_is_not_held_while_a_request_waits_on_orthanc(factory, archive, read):
    """A fresh account, so its first view is audited (takes the chain's lock); meanwhile Orthanc hangs."""
    user = factory.create("health_professional")
    if read == "stow":
        (ds,) = ct_series(Patient(name="AUDIT^LOCK", patient_id=f"AL-{uuid.uuid4().hex[:8]}"), slices=1, rows=16,
                          columns=16)
    else:
        ds = stored_slice(user.client, "AUDIT^LOCK")
    path = {"metadata": instance_path(ds) + "/metadata", "frames": instance_path(ds) + "/frames/1",
            "rendered": instance_path(ds) + "/rendered"}.get(read)
    answers: list = []

    def send() -> None:
        if read == "stow":
            answers.append(stow(user.client, [ds]))
        else:
            answers.append(user.client.get(path, headers={"Accept": FRAME_PARTS if read == "frames" else "*/*"}))

    with paused(archive):
        request = threading.Thread(target=send)
        request.start()
        time.sleep(1.5)
        assert request.is_alive()  # waiting on Orthanc
        free = _audit_lock_is_free()
    request.join(60)
    assert free, "a request held the audit chain's lock while it waited on Orthanc"
    assert answers and answers[0].status_code == 200, answers[0].text[:300] if answers else "no answer"
