"""The real OHIF viewer at /viewer on the platform origin shows a CT study read through /dicom-web."""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import requests
from mcc_local import origin as origin_module
from mcc_local.dicomgen import Patient, ct_series
from PIL import Image
from playwright.sync_api import Browser, Page

from tests.e2e.portal import new_context
from tests.support.api_client import CSRF_COOKIE, AccountFactory, Mailbox
from tests.support.dicomweb import stow

logger = logging.getLogger(__name__)

VIEWER_DIST = origin_module.ROOT / "web" / "ohif-dist"
SLICES = 20


@dataclass
class Platform:
    url: str
    ca: Path
    cookies: list[dict]


@pytest.fixture(scope="module")
def platform(origin: str, smtp) -> Platform:
    """The real origin (gateway, functions, viewer) with a signed-in, approved health professional."""
    account = AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"]).create("health_professional")
    host = urlparse(origin).hostname
    # A `__Host-` cookie must be host-only: given by URL, never with a domain (Chromium refuses it then).
    cookies = [{"name": c.name, "value": c.value, "secure": True, "httpOnly": c.name != CSRF_COOKIE,
                "sameSite": "Strict", **({"url": origin + "/"} if c.name.startswith("__Host-")
                                         else {"domain": host, "path": c.path})}
               for c in account.client.cookies]
    platform = Platform(origin, Path(account.client.verify), cookies)
    platform.client = account.client
    return platform


@pytest.fixture(scope="module")
def study_uid(platform: Platform) -> str:
    """A synthetic chest CT (body, lungs, spine and ribs in HU) stored through the gateway's STOW-RS."""
    series = ct_series(Patient(name="VIEWER^TEST", patient_id="MCC-VIEW-1"), slices=SLICES)
    r = stow(platform.client, series)
    assert r.status_code == 200, r.text
    return str(series[0].StudyInstanceUID)


def _viewport_pixels(page: Page, timeout: float = 120.0) -> np.ndarray:
    """Grey levels of the first viewport once it shows an image; NaN where OHIF's (bluish) UI covers it. The first
    load of the viewer (its bundles, WebGL on SwiftShader) can take a minute on a busy 2-core machine."""
    canvas = page.locator("canvas.cornerstone-canvas").first
    canvas.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.float64)
        neutral = rgb.max(axis=2) - rgb.min(axis=2) < 16  # a greyscale image; the tour and banners are blue
        pixels = np.where(neutral, rgb.mean(axis=2), np.nan)
        if (pixels > 90).mean() > 0.05 or time.monotonic() > deadline:
            return pixels
        time.sleep(0.5)


def _extent(points: np.ndarray) -> np.ndarray:
    """Height and width of a set of (row, column) points, ignoring stray pixels such as overlay text."""
    return np.percentile(points, 99, axis=0) - np.percentile(points, 1, axis=0)


@dataclass
class Visit:
    """What one browser saw opening the study in the viewer."""

    url: str
    pixels: np.ndarray
    requested: list[str]
    answered: list[tuple[str, int]]
    console: list[str]
    screenshot: Path


@pytest.fixture(scope="module")
def visit(browser: Browser, platform: Platform, study_uid: str, tmp_path_factory: pytest.TempPathFactory) -> Visit:
    """Open the portal's link to the study, /viewer?StudyInstanceUIDs=…, and wait for the image."""
    context = new_context(browser, platform.url, viewport={"width": 1280, "height": 900})
    context.add_cookies(platform.cookies)
    requested: list[str] = []
    answered: list[tuple[str, int]] = []
    context.on("request", lambda request: requested.append(request.url))  # workers' requests included
    context.on("response", lambda response: answered.append((response.url, response.status)))
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    screenshot = tmp_path_factory.mktemp("viewer") / "viewer.png"
    try:
        page.goto(f"{platform.url}/viewer?StudyInstanceUIDs={study_uid}")
        pixels = _viewport_pixels(page)
        page.screenshot(path=screenshot)
        url = page.url
    finally:
        context.close()
    logger.info("screenshot: %s", screenshot)
    return Visit(url, pixels, requested, answered, console, screenshot)


def test_viewer_shows_the_ct_study_read_through_dicomweb(visit: Visit, platform: Platform) -> None:
    errors = [line for line in visit.console if line.startswith("error")][-5:]
    # In the soft-tissue window air is black, muscle grey and bone white: a CT, not an empty canvas.
    dark, grey, white = (float(np.mean(mask)) for mask in (
        visit.pixels < 30, (visit.pixels > 90) & (visit.pixels < 170), visit.pixels > 230))
    assert grey > 0.1, f"no soft-tissue grey ({grey:.3f}): the study is not shown; console errors: {errors}"
    assert dark > 0.3, f"no dark air around the body ({dark:.3f})"
    assert white > 0.001, f"no white bone ({white:.4f})"
    body, bone = np.argwhere(visit.pixels > 90), np.argwhere(visit.pixels > 230)
    height, width = _extent(body)
    assert 0.6 < height / width < 0.85, f"the grey area ({width:.0f}×{height:.0f}) is not the phantom's flat chest"
    assert bone[:, 0].mean() > body[:, 0].mean(), "the spine is not at the back: wrong image or orientation"

    assert visit.url.startswith(f"{platform.url}/viewer/viewer?StudyInstanceUIDs="), visit.url
    gateway = [(u, status) for u, status in visit.answered if "/dicom-web/" in u]
    assert any(u.endswith("/frames/1") for u, _ in gateway), "OHIF fetched no frame through the gateway"
    assert all(status == 200 for _, status in gateway), [(u, s) for u, s in gateway if s != 200]


def test_viewer_loads_nothing_from_other_origins_and_breaks_no_csp_rule(visit: Visit, platform: Platform) -> None:
    origin = platform.url
    outside = [u for u in visit.requested if not u.startswith((f"{origin}/", "data:", f"blob:{origin}/"))]
    assert not outside, f"requests left the origin: {outside}"
    refused = [line for line in visit.console if "Content Security Policy" in line or "Refused to" in line]
    assert not refused, refused


def test_viewer_files_are_served_with_its_policy_and_caching(platform: Platform) -> None:
    origin = platform.url
    get = partial(requests.get, verify=str(platform.ca), timeout=10)
    page = get(f"{origin}/viewer/viewer/dicomweb?StudyInstanceUIDs=1.2.3")  # an OHIF route: its index.html
    assert page.status_code == 200 and "window.PUBLIC_URL=\"/viewer/\"" in page.text
    assert page.headers["Cache-Control"] == "no-cache"
    csp = page.headers["Content-Security-Policy"]
    # Framed only by the portal's viewer page (same origin); 'unsafe-eval' is for reading DICOM SEG (docs/viewer-ai.md).
    assert "frame-ancestors 'self'" in csp and "'sha256-" in csp and page.headers["X-Frame-Options"] == "SAMEORIGIN"
    config = get(f"{origin}/viewer/app-config.js")
    assert config.headers["Cache-Control"] == "no-cache" and "routerBasename: '/viewer'" in config.text
    bundle = next(VIEWER_DIST.glob("app.bundle.*.js")).name
    served = get(f"{origin}/viewer/{bundle}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # scripts/install precompresses the viewer (mcc_local.precompress): its main bundle goes out as brotli.
    assert served.headers["Content-Encoding"] == "br" and served.headers["Vary"] == "Accept-Encoding"
    assert served.content == (VIEWER_DIST / bundle).read_bytes()
    assert get(f"{origin}/viewer/no-such-chunk.js").status_code == 404
    escape = get(f"{origin}/viewer/..%2fpackage.json")  # web/package.json sits beside the viewer's folder
    assert escape.status_code == 404 and "medcloudcare-web" not in escape.text
    portal = get(f"{origin}/")  # the portal keeps "/" and its own policy
    assert "window.PUBLIC_URL" not in portal.text
    assert portal.headers["Content-Security-Policy"] == origin_module.PORTAL_CSP
