"""Rendered images and thumbnails: their parameters are checked and bounded by the gateway, then passed to
Orthanc 1.10 in the form it reads (it does not decode %2C, and wants window's function spelled out)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support.dicomweb import instance_path, stored_slice
from tests.support.problem import assert_problem


@pytest.fixture(scope="module")
def image(doctor):
    """One stored 64x32 CT slice (not square, so the viewport's fit shows)."""
    return stored_slice(doctor.client, "RENDER^CASE", rows=32, columns=64)


def _rendered(doctor, image, suffix="rendered", accept="image/jpeg", **params):
    return doctor.client.get(f"{instance_path(image)}/{suffix}", params=params, headers={"Accept": accept})


def _size(r) -> tuple[int, int]:
    assert r.status_code == 200, r.text[:300]
    return Image.open(io.BytesIO(r.content)).size


@pytest.mark.parametrize("suffix", ["rendered", "thumbnail", "frames/1/rendered"])
def test_a_viewport_sets_the_size_of_the_image(doctor, image, suffix):
    assert _size(_rendered(doctor, image, suffix, viewport="128,128")) == (128, 128)
    assert _size(_rendered(doctor, image, suffix)) == (64, 32)


def test_window_quality_region_and_png_come_through(doctor, image):
    r = _rendered(doctor, image, window="40,400", quality="50")
    assert r.headers["Content-Type"].startswith("image/jpeg") and _size(r) == (64, 32)
    assert _size(_rendered(doctor, image, window="-600,1500,sigmoid", viewport="32,32,0,0,-32,16")) == (32, 32)
    r = _rendered(doctor, image, accept="image/png", viewport="16,16")
    assert r.headers["Content-Type"].startswith("image/png") and _size(r) == (16, 16)


def test_a_browsers_accept_header_gets_a_jpeg(doctor, image):
    r = _rendered(doctor, image, accept="image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8")
    assert r.headers["Content-Type"].startswith("image/jpeg") and _size(r) == (64, 32)


@pytest.mark.parametrize("name,value", [
    ("viewport", "5000,5000"), ("viewport", "0,64"), ("viewport", "64"), ("viewport", "64,64,0"),
    ("viewport", "a,b"), ("viewport", "64,64,0,0,0,10"), ("quality", "0"), ("quality", "101"), ("quality", "high"),
    ("window", "40"), ("window", "40,0"), ("window", "40,400,cubic"), ("window", "nan,400"),
    ("window", "1e99,400"), ("iccprofile", "cmyk"),
])
def test_bad_rendering_parameters_are_refused_naming_the_parameter(doctor, image, name, value):
    body = assert_problem(_rendered(doctor, image, **{name: value}), 422, "validation")
    assert body["errors"][0]["field"] == name


def test_a_parameter_given_twice_is_refused(doctor, image):
    r = doctor.client.get(f"{instance_path(image)}/rendered?viewport=32,32&viewport=64,64",
                          headers={"Accept": "image/jpeg"})
    assert assert_problem(r, 422, "validation")["errors"][0]["field"] == "viewport"


def test_rendered_images_are_jpeg_or_png_and_one_frame_at_a_time(doctor, image):
    body = assert_problem(_rendered(doctor, image, accept="image/webp"), 406, "not_acceptable")
    assert body["errors"][0]["field"] == "Accept"
    body = assert_problem(_rendered(doctor, image, "frames/1,2/rendered"), 422, "validation")
    assert body["errors"][0]["field"] == "frames"
