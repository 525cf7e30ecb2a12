"""The gateway shields Orthanc 1.10 (published decoder flaws): crafted instances never reach it,
and only DICOMweb routes exist on the platform origin."""

from __future__ import annotations

import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series, to_bytes

from tests.support.crafted_dicom import CRAFTED_DATASETS, not_dicom_file, truncated_file
from tests.support.dicomweb import stow
from tests.support.problem import assert_problem


def orthanc_instances(archive) -> int:
    return len(requests.get(archive.url + "/instances", auth=tuple(archive.credentials), timeout=10).json())


def _raw(ds) -> bytes:
    try:
        return to_bytes(ds)
    except Exception:  # noqa: BLE001 - some crafted datasets cannot be written with file meta checks on
        import io

        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=False)
        return buf.getvalue()


@pytest.mark.parametrize("name", sorted(CRAFTED_DATASETS))
def test_crafted_instances_are_refused_with_a_reason_and_never_reach_orthanc(researcher, archive, name):
    base = ct_series(Patient(name="CRAFTED^CASE"), slices=1, rows=64, columns=64)[0]
    before = orthanc_instances(archive)
    r = stow(researcher.client, None, raw=[_raw(CRAFTED_DATASETS[name](base))])
    assert r.status_code == 409, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081197"]["Value"][0] in (0xA700, 0xA900, 0xC000, 0xC122, 0x0122)
    assert failure["00000902"]["Value"][0]
    assert orthanc_instances(archive) == before
    assert requests.get(archive.url + "/system", auth=tuple(archive.credentials), timeout=10).status_code == 200


def test_non_dicom_and_truncated_files_are_refused(researcher, archive):
    base = ct_series(Patient(name="TRUNCATED^CASE"), slices=1, rows=64, columns=64)[0]
    before = orthanc_instances(archive)
    r = stow(researcher.client, None, raw=[not_dicom_file(), truncated_file(base)])
    assert r.status_code == 409
    assert [f["00081197"]["Value"][0] for f in r.json()["00081198"]["Value"]] == [0xC000, 0xC000]
    assert orthanc_instances(archive) == before


@pytest.mark.parametrize("path", ["/dicom-web/instances", "/dicom-web/tools/lookup", "/dicom-web/servers",
                                  "/dicom-web/system", "/dicom-web/studies/1.2.3/series/4.5/instances/6.7/bulk/7FE00010",
                                  "/dicom-web/studies/1.2.3/archive",
                                  "/dicom-web/plugins", "/dicom-web/modalities"])
def test_only_dicomweb_routes_are_reachable(researcher, path):
    r = researcher.client.get(path)
    assert r.status_code in (404, 405)
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_orthanc_rest_paths_outside_dicomweb_reach_only_the_portal(researcher):
    r = researcher.client.post("/tools/execute-script", data=b"os.execute('id')")
    assert r.status_code == 405 and r.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("headers", [
    b"\r\n".join(b"X-Filler-%d: y" % i for i in range(5000)),       # thousands of headers
    b"Content-Type: application/dicom\r\nX-Big: " + b"a" * 200_000,  # one huge header
], ids=["thousands of headers", "a huge header"])
def test_a_part_with_too_many_or_too_large_headers_is_refused(researcher, archive, headers):
    good = to_bytes(ct_series(Patient(name="HEADERS^CASE"), slices=1, rows=16, columns=16)[0])
    body = (b"--b\r\nContent-Type: application/dicom\r\n\r\n" + good + b"\r\n--b\r\n" + headers + b"\r\n\r\n"
            + good + b"\r\n--b--\r\n")
    before = orthanc_instances(archive)
    r = researcher.client.post("/dicom-web/studies", data=body, headers={
        "Content-Type": 'multipart/related; type="application/dicom"; boundary=b', "Accept": "application/dicom+json"})
    assert_problem(r, 413, "part_headers_too_large")
    assert orthanc_instances(archive) == before  # the request stops there: the part before it is not kept either
