"""The real OHIF viewer at /viewer on the platform origin shows a CT study read through /dicom-web."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import requests
from mcc_local import origin as origin_module
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from mcc_local.orthanc import OrthancServer
from mcc_local.procs import free_port
from mcc_local.tls import ensure_self_signed_cert
from PIL import Image
from playwright.sync_api import Browser, Page
from pydicom.uid import JPEGLSLossless
from werkzeug.serving import make_server

logger = logging.getLogger(__name__)

VIEWER_DIST = origin_module.ROOT / "web" / "ohif-dist"
pytestmark = [
    pytest.mark.skipif(not Path("/usr/sbin/Orthanc").exists(), reason="Orthanc is not installed (run scripts/install)"),
    pytest.mark.skipif(not (VIEWER_DIST / "index.html").is_file(), reason="OHIF is not installed (run scripts/install)"),
]

SLICES = 20


@dataclass
class ProxiedRequest:
    method: str
    path: str
    accept: str
    status: int = 0
    content_type: str = ""


@dataclass
class DicomWebStandIn:
    """TEMPORARY TEST STAND-IN for the dicomweb gateway (functions/dicomweb), which is not written yet.

    It forwards reads of /dicom-web/* to Orthanc's DICOMweb with Orthanc's credentials and authorises
    nothing; every other path goes to the platform's real origin. It logs what OHIF asks for, so
    the gateway can be checked against it. Replace it with the real origin (and a signed-in user)
    once the gateway exists.
    """

    origin: Callable
    orthanc: OrthancServer
    log: list[ProxiedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.auth = self.orthanc.credentials

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/dicom-web/"):
            return self.origin(environ, start_response)
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Length", "0")])
            return [b""]
        query = environ.get("QUERY_STRING", "")
        entry = ProxiedRequest(environ["REQUEST_METHOD"], path + (f"?{query}" if query else ""),
                               environ.get("HTTP_ACCEPT", ""))
        self.log.append(entry)
        # Orthanc writes absolute BulkDataURIs from these, so they name the public origin.
        headers = {"Accept": entry.accept, "Accept-Encoding": "identity", "Host": environ["HTTP_HOST"],
                   "Forwarded": f"proto=https;host={environ['HTTP_HOST']}"}
        upstream = self.session.request(entry.method, self.orthanc.url + entry.path, headers=headers,
                                        stream=True, timeout=30)
        entry.status, entry.content_type = upstream.status_code, upstream.headers.get("Content-Type", "")
        passed = [(k, v) for k, v in upstream.headers.items() if k.lower() in ("content-type", "content-length")]
        start_response(f"{upstream.status_code} {upstream.reason}", passed)
        return upstream.iter_content(1 << 16)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    # Stored JPEG-LS compressed, so OHIF decodes frames with its WebAssembly codec in a worker:
    # the viewer's CSP must allow that, not only the easy uncompressed case.
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), port=free_port(),
                           extra_config={"IngestTranscoding": JPEGLSLossless})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def study_uid(orthanc: OrthancServer) -> str:
    """A synthetic chest CT (body, lungs, spine and ribs in HU) stored in Orthanc."""
    series = ct_series(Patient(name="VIEWER^TEST", patient_id="MCC-VIEW-1"), slices=SLICES)
    for ds in series:
        requests.post(f"{orthanc.url}/instances", data=to_bytes(ds), auth=orthanc.credentials,
                      timeout=10).raise_for_status()
    return str(series[0].StudyInstanceUID)


@dataclass
class Platform:
    url: str
    standin: DicomWebStandIn
    ca: Path


@pytest.fixture(scope="module")
def platform(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """HTTPS on loopback: the real origin (viewer + portal, no functions) behind the DICOMweb stand-in."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(origin_module, "FUNCTIONS", {})  # the stand-in replaces /dicom-web; nothing else is needed
        app = DicomWebStandIn(origin_module.Origin(origin_module.ROOT / "web" / "dist", VIEWER_DIST), orthanc)
    cert, key = ensure_self_signed_cert(tmp_path_factory.mktemp("tls"), ["localhost"])
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Platform(f"https://localhost:{port}", app, cert)
    server.shutdown()


def _viewport_pixels(page: Page, timeout: float = 40.0) -> np.ndarray:
    """Grey levels of the first viewport once it shows an image; NaN where OHIF's (bluish) UI covers it."""
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
    console: list[str]
    screenshot: Path


@pytest.fixture(scope="module")
def visit(browser: Browser, platform: Platform, study_uid: str, tmp_path_factory: pytest.TempPathFactory) -> Visit:
    """Open the portal's link to the study, /viewer?StudyInstanceUIDs=…, and wait for the image."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))  # workers' requests included
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
    for entry in platform.standin.log:
        logger.info("OHIF → gateway: %s %s | Accept: %s → %s %s", entry.method, entry.path, entry.accept,
                    entry.status, entry.content_type)
    return Visit(url, pixels, requested, console, screenshot)


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
    log = platform.standin.log
    assert any(e.path.endswith("/frames/1") for e in log), "OHIF fetched no frame through /dicom-web"
    assert all(e.status == 200 for e in log), [(e.path, e.status) for e in log if e.status != 200]
    assert any(u.endswith(".wasm") for u in visit.requested), "no codec ran: the JPEG-LS frames were not decoded"


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
    assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp and "'sha256-" in csp
    config = get(f"{origin}/viewer/app-config.js")
    assert config.headers["Cache-Control"] == "no-cache" and "routerBasename: '/viewer'" in config.text
    bundle = next(VIEWER_DIST.glob("app.bundle.*.js")).name
    assert get(f"{origin}/viewer/{bundle}").headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert get(f"{origin}/viewer/no-such-chunk.js").status_code == 404
    escape = get(f"{origin}/viewer/..%2fpackage.json")  # web/package.json sits beside the viewer's folder
    assert escape.status_code == 404 and "medcloudcare-web" not in escape.text
    portal = get(f"{origin}/")  # the portal keeps "/" and its own policy
    assert "window.PUBLIC_URL" not in portal.text
    assert portal.headers["Content-Security-Policy"] == origin_module.PORTAL_CSP
