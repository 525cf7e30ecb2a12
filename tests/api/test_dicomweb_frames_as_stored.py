"""Frames of compressed instances (real files pydicom ships; HTJ2K and video made by kept encoders), asked for in any syntax (dicomweb-client's and OHIF's
default `transfer-syntax=*`, or `type="*/*"`), come back as stored with PS3.18's media type; the syntax comes from the
index, recorded at ingest. Asked for native, JPEG 2000 and HTJ2K frames are decoded in the gateway (Orthanc 1.10
cannot), and rendered images and thumbnails of them (and of videos) are made there too. A syntax nobody here can make
is 406."""

from __future__ import annotations

import io
import os

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.encaps import generate_frames
from pydicom.uid import HTJ2K, MPEG4HP41, ExplicitVRLittleEndian, HTJ2KLosslessRPCL

from functions.common.dicom.syntaxes import VIDEO_TRANSFER_SYNTAXES
from tests.support import real_world
from tests.support.api_client import STRONG_PASSWORD
from tests.support.dicomweb import instance_path, parts_of, stow
from tests.support.problem import assert_problem

# Real-world files as pydicom ships them: stored syntax → media type of its frames (PS3.18 table 8.7.3-5)
SAMPLES = {
    "MR_small_jp2klossless.dcm": "image/jp2",      # JPEG 2000 lossless
    "JPEG2000.dcm": "image/jp2",                   # JPEG 2000
    "MR_small_jpeg_ls_lossless.dcm": "image/jls",  # JPEG-LS lossless
    "JPEGLSNearLossless_16.dcm": "image/jls",      # JPEG-LS near-lossless
    "MR_small_RLE.dcm": "image/dicom-rle",         # RLE lossless
    "SC_rgb_jpeg_dcmtk.dcm": "image/jpeg",         # JPEG baseline
    "JPGExtended.dcm": "image/jpeg",               # JPEG extended
    "HTJ2K lossless RPCL": "image/jphc",           # made by OpenJPH: no package ships an HTJ2K file
    "HTJ2K": "image/jphc",
    "H.264 video": "video/mp4",                    # a tiny stream made by FFmpeg (PyAV), in 3 fragments
}
MADE = {"HTJ2K lossless RPCL": lambda: real_world.htj2k(HTJ2KLosslessRPCL), "HTJ2K": lambda: real_world.htj2k(HTJ2K),
        "H.264 video": lambda: real_world.video_instance(MPEG4HP41, fragments=3)}
ANY = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
NATIVE = 'multipart/related; type="application/octet-stream"'


def _fresh(name: str) -> pydicom.Dataset:
    """The sample with UIDs of its own (several of pydicom's files are one data set in different syntaxes)."""
    return real_world.with_fresh_uids(MADE[name]() if name in MADE else real_world.sample(name))


@pytest.fixture(scope="module")
def stored(factory, origin) -> tuple[DICOMwebClient, object, dict[str, pydicom.Dataset]]:
    doctor = factory.create("health_professional")
    samples = {name: _fresh(name) for name in SAMPLES}
    for name, ds in samples.items():  # each its own request: a refusal names the file
        r = stow(doctor.client, [ds])
        assert r.status_code == 200, (name, r.text[:500])
    session = requests.Session()
    session.verify, session.trust_env = os.environ["MCC_TEST_CA"], False
    r = session.post(f"{origin}/api/auth/login",
                     json={"email": doctor.email, "password": STRONG_PASSWORD, "client": "api"})
    session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return DICOMwebClient(url=f"{origin}/dicom-web", session=session), doctor, samples


def _stored_frame(ds: pydicom.Dataset) -> bytes:
    if ds.file_meta.TransferSyntaxUID in VIDEO_TRANSFER_SYNTAXES:
        return real_world.video_of(ds)  # a video's frames are its whole stream (PS3.18 8.7.3.3.2)
    return next(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1)))


@pytest.mark.parametrize("name", SAMPLES)
def test_dicomweb_client_gets_the_stored_frame_byte_for_byte(stored, name):
    dw, _, samples = stored
    ds = samples[name]
    [frame] = dw.retrieve_instance_frames(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                                          str(ds.SOPInstanceUID), frame_numbers=[1])
    assert frame.rstrip(b"\0") == _stored_frame(ds).rstrip(b"\0")  # a fragment's even-length padding aside


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("accept", [ANY, 'multipart/related; type="*/*"; transfer-syntax=*'])
def test_any_syntax_answers_the_stored_one_with_its_media_type(stored, name, accept):
    _, doctor, samples = stored
    ds = samples[name]
    r = doctor.client.get(instance_path(ds) + "/frames/1", headers={"Accept": accept})
    assert r.status_code == 200, r.text[:300]
    assert SAMPLES[name] in r.headers["Content-Type"]
    assert str(ds.file_meta.TransferSyntaxUID) in r.headers["Content-Type"]


def test_the_index_records_each_instance_as_stored(stored, superuser):
    _, _, samples = stored
    with superuser.cursor() as cur:
        cur.execute("SELECT sop_uid, transfer_syntax FROM instances WHERE sop_uid = ANY(%s)",
                    ([str(ds.SOPInstanceUID) for ds in samples.values()],))
        recorded = dict(cur.fetchall())
    assert recorded == {str(ds.SOPInstanceUID): str(ds.file_meta.TransferSyntaxUID) for ds in samples.values()}


def test_an_instance_indexed_before_its_syntax_was_recorded_is_looked_up_in_the_archive(stored, superuser):
    _, doctor, samples = stored
    ds = samples["JPEG2000.dcm"]
    with superuser.cursor() as cur:
        cur.execute("UPDATE instances SET transfer_syntax = NULL WHERE sop_uid = %s", (str(ds.SOPInstanceUID),))
    superuser.commit()
    try:
        r = doctor.client.get(instance_path(ds) + "/frames/1", headers={"Accept": ANY})
        assert r.status_code == 200 and "image/jp2" in r.headers["Content-Type"]
        assert parts_of(r)[0].rstrip(b"\0") == _stored_frame(ds).rstrip(b"\0")
    finally:
        with superuser.cursor() as cur:
            cur.execute("UPDATE instances SET transfer_syntax = %s WHERE sop_uid = %s",
                        (str(ds.file_meta.TransferSyntaxUID), str(ds.SOPInstanceUID)))
        superuser.commit()


@pytest.mark.parametrize("name", ["MR_small_jp2klossless.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "HTJ2K lossless RPCL", "HTJ2K"])
def test_native_frames_are_the_decoded_pixels(stored, name):
    """Orthanc decodes RLE and JPEG-LS itself; JPEG 2000 and HTJ2K are decoded in the gateway: the same bytes."""
    _, doctor, samples = stored
    ds = samples[name]
    r = doctor.client.get(instance_path(ds) + "/frames/1", headers={"Accept": NATIVE})
    assert r.status_code == 200, r.text[:300]
    assert str(ExplicitVRLittleEndian) in r.headers["Content-Type"]
    expected = ds.pixel_array
    got = np.frombuffer(parts_of(r)[0][:expected.nbytes], dtype=expected.dtype.newbyteorder("<"))
    assert np.array_equal(got.reshape(expected.shape), expected)


def test_a_syntax_the_platform_cannot_make_is_406(stored):
    _, doctor, samples = stored
    ds = samples["JPEG2000.dcm"]
    r = doctor.client.get(instance_path(ds) + "/frames/1",
                          headers={"Accept": 'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80'})
    body = assert_problem(r, 406, "not_acceptable")
    assert body["errors"][0]["field"] == "Accept" and "stored as JPEG 2000" in body["detail"]


def test_a_frame_past_the_last_is_404(stored):
    _, doctor, samples = stored
    ds = samples["JPEG2000.dcm"]
    for accept in (ANY, NATIVE):
        assert_problem(doctor.client.get(instance_path(ds) + "/frames/2", headers={"Accept": accept}), 404,
                       "not_found")


@pytest.mark.parametrize("name", ["MR_small_jp2klossless.dcm", "HTJ2K"])
@pytest.mark.parametrize("suffix", ["/rendered", "/thumbnail", "/frames/1/rendered"])
def test_jpeg_2000_and_htj2k_render_in_the_gateway(stored, suffix, name):
    _, doctor, samples = stored
    ds = samples[name]
    r = doctor.client.get(instance_path(ds) + suffix, headers={"Accept": "image/png"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png", r.text[:300]
    image = np.asarray(Image.open(io.BytesIO(r.content)).convert("L"), dtype=np.float64)
    assert image.shape == ds.pixel_array.shape
    # the instance's own window applied: the image follows the pixels (not blank, not noise)
    assert np.corrcoef(image.ravel(), ds.pixel_array.astype(np.float64).ravel())[0, 1] > 0.9


def test_a_series_thumbnail_of_jpeg_2000_and_a_viewport(stored):
    _, doctor, samples = stored
    ds = samples["MR_small_jp2klossless.dcm"]
    series = f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    r = doctor.client.get(series + "/thumbnail", params={"viewport": "32,16"}, headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", r.text[:300]
    assert Image.open(io.BytesIO(r.content)).size == (16, 16)  # 64 × 64 fitted into 32 × 16


@pytest.mark.parametrize("name", [n for n in SAMPLES if n not in MADE or n.startswith("HTJ2K")])
@pytest.mark.parametrize("suffix", ["/rendered", "/thumbnail"])
def test_every_image_syntax_renders_and_has_a_thumbnail(stored, name, suffix):
    """Orthanc renders what it decodes (JPEG, JPEG-LS, RLE); the gateway renders JPEG 2000 and HTJ2K."""
    _, doctor, samples = stored
    ds = samples[name]
    r = doctor.client.get(instance_path(ds) + suffix, headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", (name, r.text[:300])
    image = np.asarray(Image.open(io.BytesIO(r.content)).convert("L"), dtype=np.float64)
    assert image.std() > 5  # an image, not a blank


def _square_column(rendered: bytes) -> float:
    """Where the moving square of real_world.video_stream is in a rendered frame: the mean column of its bright,
    yellow pixels (the background is dark grey)."""
    rgb = np.asarray(Image.open(io.BytesIO(rendered)).convert("RGB"), dtype=np.int32)
    bright = (rgb[..., 0] > 150) & (rgb[..., 1] > 120) & (rgb[..., 2] < 110)
    assert bright.sum() > 100, "no square in the rendered frame"
    return float(np.nonzero(bright)[1].mean())


@pytest.mark.parametrize("suffix", ["/rendered", "/thumbnail", "/frames/1/rendered"])
def test_a_video_renders_its_first_frame(stored, suffix):
    """Orthanc renders no video: the gateway decodes the stream (FFmpeg through PyAV) up to the frame asked for."""
    _, doctor, samples = stored
    r = doctor.client.get(instance_path(samples["H.264 video"]) + suffix, headers={"Accept": "image/jpeg"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", r.text[:300]
    assert abs(_square_column(r.content) - 11.5) < 2  # frame 1: the square spans columns 4-19


def test_a_video_renders_the_frame_asked_for_and_not_past_its_end(stored):
    _, doctor, samples = stored
    path = instance_path(samples["H.264 video"])
    fourth = doctor.client.get(path + "/frames/4/rendered", headers={"Accept": "image/png"})
    assert fourth.status_code == 200 and fourth.headers["Content-Type"] == "image/png"
    assert abs(_square_column(fourth.content) - 23.5) < 2  # frame 4: moved 12 columns right
    body = assert_problem(doctor.client.get(path + "/frames/7/rendered", headers={"Accept": "image/jpeg"}), 404,
                          "not_found")
    assert "frame" in body["detail"]


