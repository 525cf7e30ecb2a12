"""read_series: a series stored through STOW (the real gateway, PostgreSQL and encrypting Orthanc) read back
from the archive as a model's input, authorised like the gateway and with original attributes restored."""

from __future__ import annotations

import gc
import io
import os
import random
import uuid

import highdicom as hd
import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom.uid import JPEGLosslessSV1, generate_uid
from sqlalchemy import select

from functions.common.access.policy import Action, study_for
from functions.common.dicom.index import Instance
from functions.common.dicom.orthanc import orthanc
from functions.common.dicom.results import AlgorithmInfo, segmentation
from functions.common.dicom.validation import check_instance, parse_part10
from functions.common.dicom.volumes import NotARegularGrid, Timings, read_series
from functions.common.dicom.volumes.pixels import can_decode
from functions.common.platform.errors import NotFound, Refused
from functions.common.security.tokens import Principal
from model_builder import Label, LabelVolume
from tests.core.dicom.test_volumes import _dicom_pixel_position, _hu, _oblique_flipped, _voxel_to_patient
from tests.support.dicomweb import stow


def _read(db, principal, study_uid: str, series_uid: str, **kwargs):
    """As the executor reads a job's series: authorised by the permission model (404 like the gateway), then read."""
    study = study_for(db, principal, study_uid, Action.READ, series_uid=series_uid)
    return read_series(db, study, series_uid, **kwargs).volume


class Uploader:
    """An approved health professional who stores series through STOW and reads them as that account."""

    def __init__(self, account) -> None:
        self.client = account.client
        self.principal = Principal.acting_for(uuid.UUID(account.id), role=account.role, status="active")

    def store(self, series) -> None:
        r = stow(self.client, series)
        assert r.status_code == 200 and "00081198" not in r.json(), r.text


@pytest.fixture(scope="module")
def doctor(origin, smtp) -> Uploader:
    """Signed up, verified and approved through the real API, once for the module."""
    from tests.support.api_client import AccountFactory, Mailbox

    return Uploader(AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"]).create("health_professional"))


def _patient(tag: str) -> Patient:
    return Patient(name=f"VOLUME^{tag}", patient_id=f"VOL-{uuid.uuid4().hex[:10]}", birth_date="19580412", sex="M")


@pytest.fixture(scope="module")
def stored(doctor):
    """A 7-slice CT of a known patient aged 67, uploaded in shuffled order."""
    series = ct_series(_patient("ORIGINAL"), slices=7, rows=32, columns=28)
    for ds in series:
        ds.PatientAge = "067Y"
    shuffled = series[:]
    random.Random(5).shuffle(shuffled)
    doctor.store(shuffled)
    return series


def test_a_stored_ct_reads_back_in_hu_with_every_slice_where_dicom_puts_it(db, doctor, stored):
    timings = Timings()
    volume = _read(db, doctor.principal, str(stored[0].StudyInstanceUID), str(stored[0].SeriesInstanceUID),
                         timings=timings)
    assert volume.array.dtype == np.int16 and volume.modality == "CT"
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in stored]))
    for k, ds in enumerate(stored):
        assert np.allclose(_voxel_to_patient(volume, k, 0, 0), np.asarray(ds.ImagePositionPatient, dtype=float))
    assert timings.instances == 7 and timings.bytes > 7 * 32 * 28 * 2 and timings.total >= timings.transfer > 0


def test_asked_attributes_are_the_originals_not_the_archives_pseudonyms(db, doctor, stored):
    first = stored[0]
    sop = db.scalar(select(Instance.orthanc_id).where(Instance.sop_uid == str(first.SOPInstanceUID)))
    in_archive = pydicom.dcmread(io.BytesIO(orthanc().request("GET", f"/instances/{sop}/file").content))
    assert str(in_archive.PatientName) != "VOLUME^ORIGINAL"  # Orthanc holds the pseudonym ...
    volume = _read(db, doctor.principal, str(first.StudyInstanceUID), str(first.SeriesInstanceUID),
                         attributes=["PatientAge", "PatientSex", "PatientName", "PatientID", "PatientBirthDate"])
    assert volume.attributes == {"PatientAge": "067Y", "PatientSex": "M", "PatientName": "VOLUME^ORIGINAL",
                                 "PatientID": str(first.PatientID), "PatientBirthDate": "19580412"}  # ... not here


def test_a_caller_without_read_access_is_refused_like_the_gateway(db, world, stored):
    stranger = world.person()
    with pytest.raises(Refused) as refused:
        _read(db, stranger.principal, str(stored[0].StudyInstanceUID), str(stored[0].SeriesInstanceUID))
    assert refused.value.status == 404 and refused.value.exists


def test_a_series_the_study_does_not_hold_is_not_found(db, doctor, stored):
    with pytest.raises(NotFound) as missing:
        _read(db, doctor.principal, str(stored[0].StudyInstanceUID), generate_uid())
    assert not isinstance(missing.value, Refused)


def test_a_stored_series_missing_a_slice_is_refused(db, doctor):
    series = ct_series(_patient("GAP"), slices=6, rows=16, columns=16)
    doctor.store(series[:2] + series[3:])
    with pytest.raises(NotARegularGrid) as refused:
        _read(db, doctor.principal, str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID))
    assert refused.value.reason == "missing_slice"


def test_a_stored_oblique_flipped_series_keeps_its_geometry(db, doctor):
    series = _oblique_flipped(ct_series(_patient("OBLIQUE"), slices=5, rows=20, columns=18))
    doctor.store(series)
    volume = _read(db, doctor.principal, str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID))
    by_index = {int(ds.pixel_array[0, 0]): ds for ds in series}
    for k in range(volume.shape[0]):
        ds = by_index[int(volume.array[k, 0, 0]) - int(series[0].RescaleIntercept)]
        for r, c in ((0, 0), (19, 17), (7, 11)):
            assert np.allclose(_voxel_to_patient(volume, k, r, c), _dicom_pixel_position(ds, r, c), atol=1e-4)


def test_jpeg_lossless_the_process_cannot_decode_is_decoded_by_the_archive(db, doctor, stored):
    """JPEG Lossless needs pylibjpeg in pydicom (not installed): Orthanc decodes those instances instead."""
    assert not can_decode(JPEGLosslessSV1)
    study_uid, series_uid, patient_id = generate_uid(), generate_uid(), f"VOL-{uuid.uuid4().hex[:10]}"
    compressed = []
    for ds in stored:
        sop = db.scalar(select(Instance.orthanc_id).where(Instance.sop_uid == str(ds.SOPInstanceUID)))
        data = orthanc().request("POST", f"/instances/{sop}/modify", json={"Transcode": JPEGLosslessSV1}).content
        copy = pydicom.dcmread(io.BytesIO(data))
        assert copy.file_meta.TransferSyntaxUID == JPEGLosslessSV1
        copy.StudyInstanceUID, copy.SeriesInstanceUID = study_uid, series_uid
        copy.SOPInstanceUID = copy.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        copy.PatientID = patient_id  # a new study: of a patient of its own
        compressed.append(copy)
    r = stow(doctor.client, [], raw=[to_bytes(ds) for ds in compressed])
    assert r.status_code == 200 and "00081198" not in r.json(), r.text
    volume = _read(db, doctor.principal, study_uid, series_uid)
    assert np.array_equal(volume.array, np.stack([_hu(ds) for ds in stored]))


def test_the_sources_are_the_archived_headers_without_pixels_even_when_originals_are_asked(db, doctor, stored):
    study = study_for(db, doctor.principal, str(stored[0].StudyInstanceUID), Action.READ,
                      series_uid=str(stored[0].SeriesInstanceUID))
    read = read_series(db, study, str(stored[0].SeriesInstanceUID), attributes=["PatientName", "PatientID"])
    assert read.volume.attributes["PatientName"] == "VOLUME^ORIGINAL"
    assert {str(ds.SOPInstanceUID) for ds in read.sources} == {str(ds.SOPInstanceUID) for ds in stored}
    assert all("PixelData" not in ds and ds.buffer is None for ds in read.sources)  # the files' bytes are let go
    assert all(str(ds.PatientName) != "VOLUME^ORIGINAL" for ds in read.sources)  # restoring copied the first slice
    assert gc.isenabled()  # paused for the parse only


def test_a_seg_built_on_the_sources_read_gives_back_its_labels_on_their_slices(db, doctor, stored):
    study = study_for(db, doctor.principal, str(stored[0].StudyInstanceUID), Action.READ,
                      series_uid=str(stored[0].SeriesInstanceUID))
    read = read_series(db, study, str(stored[0].SeriesInstanceUID))
    labelled = np.zeros(read.volume.shape, np.uint8)
    labelled[2:5, 8:20, 6:18] = 1
    seg = segmentation(read.sources, [Label("Liver")], LabelVolume(labelled), volume=read.volume,
                       algorithm=AlgorithmInfo("Liver", 1, "0" * 64))
    buffer = io.BytesIO()
    seg.save_as(buffer)
    check_instance(parse_part10(buffer.getvalue()))
    back = hd.seg.segread(io.BytesIO(buffer.getvalue()))
    in_volume_order = [str(ds.SOPInstanceUID) for ds in stored]  # `stored` runs along the slice normal
    mask = back.get_pixels_by_source_instance(in_volume_order, combine_segments=True, skip_overlap_checks=True,
                                              assert_missing_frames_are_empty=True)
    assert np.array_equal(mask, labelled)
