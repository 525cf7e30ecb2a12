"""Big endian and deflated instances through STOW-RS: stored as Explicit VR Little Endian, retrieved with the
pixels and attributes pydicom reads from the original; bombs and truncated streams refused, nothing stored."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import requests
from pydicom.uid import ExplicitVRLittleEndian

from tests.support.dicomweb import DICOM_PARTS, instance_path, parts_of, stow
from tests.support.syntax_samples import (
    BIG_ENDIAN_SAMPLES,
    DEFLATED_SAMPLE,
    deflate_bomb,
    fresh,
    nested_big_endian,
    same_attributes,
    sop_uid,
    truncated_deflated,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns on the samples' odd UIDs
PIXEL_DATA = 0x7FE00010


def _archived(archive, sop: str) -> list[str]:
    hits = requests.post(archive.url + "/tools/lookup", data=sop, auth=tuple(archive.credentials), timeout=10)
    return [hit["ID"] for hit in hits.json() if hit["Type"] == "Instance"]


def _stored_syntax(archive, sop: str) -> str:
    (orthanc_id,) = _archived(archive, sop)
    r = requests.get(f"{archive.url}/instances/{orthanc_id}/file", auth=tuple(archive.credentials), timeout=30)
    return str(pydicom.dcmread(io.BytesIO(r.content), stop_before_pixels=True).file_meta.TransferSyntaxUID)


@pytest.mark.parametrize("name", [*BIG_ENDIAN_SAMPLES, DEFLATED_SAMPLE, "nested big endian"])
def test_a_big_endian_or_deflated_instance_is_stored_little_endian_and_retrieved_identical(doctor, archive, name):
    data = nested_big_endian() if name == "nested big endian" else fresh(name)
    original = pydicom.dcmread(io.BytesIO(data))
    r = stow(doctor.client, None, raw=[data])
    assert r.status_code == 200, r.text
    assert _stored_syntax(archive, str(original.SOPInstanceUID)) == ExplicitVRLittleEndian
    r = doctor.client.get(instance_path(original), headers={"Accept": DICOM_PARTS})
    assert r.status_code == 200
    (part,) = parts_of(r)
    retrieved = pydicom.dcmread(io.BytesIO(part))
    assert retrieved.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(retrieved.pixel_array, original.pixel_array)
    assert same_attributes(original, retrieved, skip=frozenset({PIXEL_DATA})) == []


def test_a_deflate_bomb_is_refused_with_its_reason_and_nothing_is_stored(doctor, archive):
    bomb = deflate_bomb()
    r = stow(doctor.client, None, raw=[bomb])
    assert r.status_code == 409, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081197"]["Value"] == [0xC000]
    assert _archived(archive, sop_uid(bomb)) == []


def test_a_truncated_deflated_instance_is_refused_beside_a_good_one_that_is_stored(doctor, archive):
    good, cut = fresh(DEFLATED_SAMPLE), truncated_deflated()
    r = stow(doctor.client, None, raw=[cut, good])
    assert r.status_code == 202, r.text
    (failure,) = r.json()["00081198"]["Value"]
    assert failure["00081197"]["Value"] == [0xC000]
    assert len(r.json()["00081199"]["Value"]) == 1
    assert _archived(archive, sop_uid(good)) != []
