"""Sharing a case with a colleague's group, measurements included, and taking it back, in the real portal
and the real OHIF viewer (headless Chromium) against the real origin, gateway, Orthanc and PostgreSQL.

A uploads a CT through the portal, draws a length in OHIF and saves it (a DICOM SR stored through the
gateway), shares the study with B's group from the portal's Share dialog; B finds it under "Shared
with me", opens it and sees A's measurement; A revokes; B's very next request, from the viewer
already open, is refused.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from pathlib import Path

from mcc_local.dicomgen import Patient, ct_series, write_series
from playwright.sync_api import Browser, Page, expect

from tests.e2e import ohif
from tests.e2e.portal import new_context, sign_in
from tests.support.api_client import STRONG_PASSWORD, AccountFactory, Mailbox

logger = logging.getLogger(__name__)
SLICES = 8
VIEWPORT = {"width": 1400, "height": 900}


def _studies_row(page: Page, tag: str):
    return page.get_by_role("table", name="Studies", exact=True).locator("tbody tr").filter(has_text=tag)


def test_a_shared_case_with_its_measurement_and_its_revocation(browser: Browser, origin: str, smtp,
                                                               tmp_path: Path):
    factory = AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"])
    a, b = factory.create("health_professional"), factory.create("health_professional")
    tag = uuid.uuid4().hex[:8].upper()
    series = ct_series(Patient(name=f"SHARED^CASE^{tag}", patient_id=f"SC-{tag}"), slices=SLICES, rows=128,
                       columns=128)
    study_uid = str(series[0].StudyInstanceUID)
    files = write_series(series, tmp_path / "upload")
    ctx_a, ctx_b = new_context(browser, origin, viewport=VIEWPORT), new_context(browser, origin, viewport=VIEWPORT)
    page_a, page_b = ctx_a.new_page(), ctx_b.new_page()
    ohif.quiet_onboarding(page_b)
    try:
        # B makes a group and adds A to it (the portal's group pages).
        sign_in(page_b, b.email, STRONG_PASSWORD)
        page_b.goto("/groups")
        page_b.get_by_label("Group name").fill(f"Chest team {tag}")
        page_b.get_by_role("button", name="Create group").click()
        page_b.wait_for_url(re.compile(r"/groups/[0-9a-f-]{36}$"))
        page_b.get_by_label("Email").fill(a.email)
        page_b.get_by_role("button", name="Add member").click()
        expect(page_b.get_by_role("table", name="Members")).to_contain_text(a.email)

        # A uploads the CT through the portal.
        sign_in(page_a, a.email, STRONG_PASSWORD)
        page_a.goto("/studies")
        upload = page_a.locator("#upload-studies")
        upload.get_by_label("Choose files").set_input_files([str(f) for f in files])
        expect(upload.get_by_test_id("upload-summary").get_by_text(f"{SLICES} instances stored in 1 study")
               ).to_be_visible(timeout=120_000)

        # A measures a length in OHIF and saves it: a DICOM SR stored into the study through the gateway.
        ohif.open_study(page_a, origin, study_uid)
        length = ohif.draw_length(page_a)
        assert re.fullmatch(r"\d+(\.\d+)? mm", length), length
        assert ohif.save_measurements(page_a, report_name=f"Lengths {tag}") == 200

        # A shares the study with B's group, read only, from the Share dialog.
        page_a.goto("/studies?scope=mine")
        row = _studies_row(page_a, tag)
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Share", exact=True).click()
        dialog = page_a.get_by_role("dialog", name="Share this study")
        group = dialog.get_by_label("Group", exact=True)
        expect(group).to_be_enabled()  # once my groups are loaded
        group.select_option(label=f"Chest team {tag}")
        dialog.get_by_label("Level", exact=True).select_option("read")
        dialog.get_by_role("button", name="Add").click()
        who = dialog.get_by_role("list", name="Who has access")
        expect(who).to_contain_text(f"Chest team {tag}")

        # B finds it under "Shared with me", opens it, and sees A's measurement.
        page_b.goto("/studies")
        expect(page_b.locator(".results-count")).to_be_visible()  # the list has loaded
        shared_only = page_b.get_by_role("radio", name="Shared with me")
        shared_only.click()
        expect(page_b).to_have_url(re.compile(r"scope=shared"))
        expect(shared_only).to_be_checked()
        shared_row = _studies_row(page_b, tag)
        expect(shared_row).to_have_count(1)
        expect(shared_row).to_contain_text("read")
        expect(shared_row.get_by_role("button", name="Share", exact=True)).to_have_count(0)
        shared_row.get_by_role("link", name="Open").click()
        page_b.wait_for_url(re.compile(rf"/viewer/viewer\?StudyInstanceUIDs={re.escape(study_uid)}"))
        ohif.open_saved_measurements(page_b, report_name=f"Lengths {tag}")
        labels = ohif.wait_for_measurement_label(page_b, re.escape(length))
        assert any(length in label for label in labels), labels

        # A revokes; B's viewer, still open, is refused on its very next request.
        who.get_by_role("button", name="Revoke").click()
        dialog.get_by_role("button", name="Confirm").click()
        expect(who).not_to_contain_text(f"Chest team {tag}")
        status = page_b.evaluate("""async (uid) => (await fetch(`/dicom-web/studies/${uid}/metadata`,
                                     {credentials: 'same-origin'})).status""", study_uid)
        assert status == 404
        page_b.goto("/studies?scope=shared")
        expect(_studies_row(page_b, tag)).to_have_count(0)
    finally:
        for page, name in ((page_a, "a"), (page_b, "b")):
            try:
                page.screenshot(path=tmp_path / f"sharing-{name}.png")
            except Exception:  # noqa: BLE001 - a screenshot is only a clue for a failure
                pass
        ctx_a.close()
        ctx_b.close()
