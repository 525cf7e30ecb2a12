"""Zip import: checked whole before anything is stored, then each file ingested like STOW."""

from __future__ import annotations

import uuid

import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes

from tests.support.archives import make_zip
from tests.support.problem import assert_problem


def post_zip(client, data: bytes, content_type: str = "application/zip"):
    return client.post("/api/studies/import", data=data, headers={"Content-Type": content_type})


def total(client) -> int:
    return client.get("/api/studies").json()["total"]


def test_a_folder_archive_is_imported_and_bad_files_get_reasons(doctor):
    tag = uuid.uuid4().hex[:6]
    series = ct_series(Patient(name=f"ZIP{tag}^ONE", patient_id=f"Z-{tag}"), slices=3, rows=32, columns=32)
    entries = {f"scan/series1/IM{i}.dcm": to_bytes(ds) for i, ds in enumerate(series)}
    entries["scan/notes.txt"] = b"not dicom"
    entries["scan/DICOMDIR"] = b"skipped"
    entries["__MACOSX/._IM0.dcm"] = b"skipped"
    r = post_zip(doctor.client, make_zip(entries))
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(s["file"] for s in body["stored"]) == sorted(n for n in entries if n.endswith(".dcm")
                                                               and not n.startswith("__MACOSX"))
    assert {s["study_uid"] for s in body["stored"]} == {str(series[0].StudyInstanceUID)}
    assert body["failed"] == [{"file": "scan/notes.txt", "reason_code": 0xC000,
                               "message": body["failed"][0]["message"]}]
    listed = doctor.client.get("/api/studies", params={"patient_id": f"Z-{tag}"}).json()
    assert listed["total"] == 1 and listed["items"][0]["num_instances"] == 3


@pytest.mark.parametrize("name", ["../escape.dcm", "/etc/passwd", "a/../../b.dcm", "C:\\evil.dcm"])
def test_path_traversal_refuses_the_whole_archive(doctor, name):
    good = to_bytes(ct_series(Patient(name="TRAVERSAL^CASE"), slices=1, rows=32, columns=32)[0])
    before = total(doctor.client)
    r = post_zip(doctor.client, make_zip({"ok.dcm": good, name: good}))
    assert_problem(r, 422, "bad_archive")
    assert "outside the archive" in r.json()["detail"]
    assert total(doctor.client) == before


def test_a_zip_bomb_is_refused_before_it_is_expanded(doctor):
    before = total(doctor.client)
    r = post_zip(doctor.client, make_zip({"bomb.dcm": bytes(50 * 1024 * 1024)}))
    assert_problem(r, 422, "bad_archive")
    assert "zip bomb" in r.json()["detail"]
    assert total(doctor.client) == before


def test_corrupt_or_mistyped_archives_are_refused(doctor):
    good = make_zip({"a.dcm": to_bytes(ct_series(Patient(name="CORRUPT^CASE"), slices=1, rows=32, columns=32)[0])})
    assert_problem(post_zip(doctor.client, good[: len(good) // 2]), 422, "bad_archive")
    flipped = bytearray(good)
    flipped[60] ^= 0xFF  # inside the compressed data: the CRC no longer matches
    assert_problem(post_zip(doctor.client, bytes(flipped)), 422, "bad_archive")
    assert_problem(post_zip(doctor.client, good, "application/octet-stream"), 415, "unsupported_type")


def test_importing_needs_an_approved_account(factory, client):
    pending = factory.create("health_professional", status="pending")
    assert_problem(post_zip(pending.client, make_zip({"a": b"x"})), 403, "account_pending")
    assert_problem(post_zip(client, make_zip({"a": b"x"})), 401, "not_authenticated")
