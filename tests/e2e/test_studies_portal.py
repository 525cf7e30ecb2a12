"""A health professional's study, through the real portal and viewer, against the platform command 1 starts.

Sign in, upload a CT series from a folder on disk through the Studies page, find it by patient name,
open it in OHIF and see its pixels, come back to the filtered list and delete it with the password.
"""

from __future__ import annotations

import io
import logging
import re
import time
import uuid
from pathlib import Path

import numpy as np
from mcc_local.dicomgen import Patient, ct_series, write_series
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.e2e.portal import new_context, sign_in

logger = logging.getLogger(__name__)

SLICES = 12


def _viewport_pixels(page: Page, timeout: float = 60.0) -> tuple[np.ndarray, dict]:
    """Grey levels of OHIF's first viewport once it shows an image (NaN where its coloured UI covers it)."""
    canvas = page.locator("canvas.cornerstone-canvas").first
    canvas.wait_for(state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        box = canvas.bounding_box()
        rgb = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB"), dtype=np.float64)
        neutral = rgb.max(axis=2) - rgb.min(axis=2) < 16  # the CT is greyscale; overlays and banners are blue
        pixels = np.where(neutral, rgb.mean(axis=2), np.nan)
        if np.nanmean((pixels > 90) & (pixels < 170)) > 0.05 or time.monotonic() > deadline:
            return pixels, box
        time.sleep(0.5)


def test_professional_uploads_finds_views_and_deletes_a_study(browser: Browser, live_platform, tmp_path: Path):
    email, password = live_platform.logins["health_professional"]
    tag = uuid.uuid4().hex[:10].upper()
    series = ct_series(Patient(name=f"E2E^VIEWER^{tag}", patient_id=f"E2E-{tag}"), slices=SLICES, rows=128, columns=128)
    study_uid = str(series[0].StudyInstanceUID)
    files = write_series(series, tmp_path / "upload")

    context = new_context(browser, live_platform.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    responses: list[str] = []
    page.on("response", lambda r: responses.append(f"{r.request.method} {r.url} → {r.status}")
            if "/dicom-web/" in r.url or "/api/studies" in r.url else None)
    try:
        sign_in(page, email, password)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Studies").click()
        expect(page).to_have_url(re.compile(r"/studies$"))
        expect(page.get_by_role("heading", name="Studies", exact=True)).to_be_visible()

        # Upload: the folder's files through the "Choose files" input; the server answers per study.
        upload = page.locator("#upload-studies")
        upload.get_by_label("Choose files").set_input_files([str(f) for f in files])
        summary = upload.get_by_test_id("upload-summary")
        expect(summary.get_by_text(f"{SLICES} instances stored in 1 study")).to_be_visible(timeout=120_000)
        expect(summary.get_by_role("row").filter(has_text=tag)).to_contain_text(str(SLICES))
        expect(upload.get_by_text("Not stored")).to_have_count(0)

        # Find it by one component of the patient's name, in another case: exactly that study.
        page.get_by_label("Patient name").fill(tag.lower())
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(re.compile(rf"/studies\?patient_name={tag.lower()}$"))
        expect(page.get_by_text("1 study", exact=True)).to_be_visible()
        rows = page.get_by_role("table", name="Studies", exact=True).locator("tbody tr")
        expect(rows).to_have_count(1)
        row = rows.first
        expect(row).to_contain_text(f"E2E, VIEWER {tag}")
        expect(row).to_contain_text(f"E2E-{tag}")
        expect(row).to_contain_text("CT")
        expect(row).to_contain_text(f"1 / {SLICES}")

        # Open: a full page load of OHIF in the same tab.
        row.get_by_role("link", name="Open").click()
        page.wait_for_url(re.compile(rf"/viewer/viewer\?StudyInstanceUIDs={re.escape(study_uid)}"))
        pixels, box = _viewport_pixels(page)
        screenshot = tmp_path / "viewer.png"
        page.screenshot(path=screenshot)
        logger.info("viewer screenshot: %s (viewport %s)", screenshot, box)
        errors = [line for line in console if line.startswith("error")][-5:]
        grey = float(np.nanmean((pixels > 90) & (pixels < 170)))
        bright = float(np.nanmean(pixels > 200))
        spread = float(np.nanstd(pixels))
        assert box["width"] > 300 and box["height"] > 300, f"the viewport is too small to be the image area: {box}"
        assert grey > 0.05, f"no soft-tissue grey ({grey:.3f}): the study is not shown; console errors: {errors}"
        assert bright > 0.001, f"no bright bone ({bright:.4f}); console errors: {errors}"
        assert spread > 20, f"the viewport is nearly uniform (σ={spread:.1f}): blank or an error canvas"

        # Back: the portal's filtered list, restored from the URL.
        page.go_back()
        expect(page).to_have_url(re.compile(rf"/studies\?patient_name={tag.lower()}$"))
        expect(page.get_by_label("Patient name")).to_have_value(tag.lower())
        row = page.get_by_role("table", name="Studies", exact=True).locator("tbody tr").filter(has_text=tag)
        expect(row).to_have_count(1)

        # Delete: a wrong password is refused beside the field; the right one deletes the study.
        row.get_by_role("button", name="Delete").click()
        dialog = page.get_by_role("dialog", name="Delete this study?")
        expect(dialog).to_be_visible()
        dialog.get_by_label("Current password").fill(password + "-wrong")
        dialog.get_by_role("button", name="Delete study").click()
        expect(dialog.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
        expect(row).to_have_count(1)
        dialog.get_by_label("Current password").fill(password)
        dialog.get_by_role("button", name="Delete study").click()
        expect(dialog).to_have_count(0)
        expect(page.get_by_text("No studies match these filters.")).to_be_visible()
        expect(page.get_by_text("0 studies", exact=True)).to_be_visible()
        page.reload()
        expect(page.get_by_text("No studies match these filters.")).to_be_visible()
    finally:
        for line in responses:
            logger.info("%s", line)
        context.close()
