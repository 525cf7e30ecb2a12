"""The study list as a radiologist expects it, measured in a real Chromium at common desktop widths.

A health professional with a handful of studies (long patient names, IDs and descriptions, one study shared by a
colleague) opens the Studies page at 1280 to 1920 px: the list comes first (the upload area is a one-line bar),
nothing scrolls sideways, every row is one line high with long text cut to an ellipsis (the whole text in a
tooltip), and each row's actions lie inside the table, visible.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcc_local.dicomgen import Patient, ct_series, mr_series, write_series
from playwright.sync_api import Browser, Locator, Page, expect

from tests.e2e.portal import new_context, sign_in
from tests.support.api_client import Account, AccountFactory, Mailbox
from tests.support.dicomweb import stow

logger = logging.getLogger(__name__)

WIDTHS = (1280, 1400, 1440, 1600, 1920)
HEIGHT = 900
MAX_ROW_HEIGHT = 48  # px: one line of text and a compact button, as in a hospital's worklist
OWN_STUDIES = 5
# Longest values DICOM allows for a person name group (64 characters) and a description (LO, 64 characters).
LONG_FAMILY = "WOLFESCHLEGELSTEINHAUSEN-BERGERDORFF"
LONG_DESCRIPTION = "CT CHEST ABDOMEN PELVIS WITH IV CONTRAST, ARTERIAL AND VENOUS"


@dataclass(frozen=True)
class Worklist:
    """A signed-up health professional whose list holds `rows` studies, and the long texts stored in them."""

    doctor: Account
    rows: int
    descriptions: tuple[str, ...]
    patient_ids: tuple[str, ...]


def _store(account: Account, *, name: str, patient_id: str, description: str, modality: str) -> str:
    """One single-slice study with these study-level texts, stored through the gateway's STOW-RS."""
    make = ct_series if modality == "CT" else mr_series
    series = make(Patient(name=name, patient_id=patient_id), slices=1, rows=16, columns=16)
    for ds in series:
        ds.StudyDescription = description
    response = stow(account.client, series)
    assert response.status_code == 200, response.text
    return str(series[0].StudyInstanceUID)


@pytest.fixture(scope="module")
def worklist(origin: str, smtp) -> Worklist:
    """Five studies of the doctor's own and one a colleague shared with them (read only)."""
    factory = AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"])
    doctor, colleague = factory.create("health_professional"), factory.create("health_professional")
    tag = uuid.uuid4().hex[:6].upper()
    descriptions, patient_ids = [], []
    for index in range(OWN_STUDIES):
        description = f"{index} {LONG_DESCRIPTION}"
        patient_id = f"LAYOUT-{tag}-{index}-0000000000-ABCDEFGHIJ"
        _store(doctor, name=f"{LONG_FAMILY}^ALEXANDRA-KATHARINA{index}^{tag}", patient_id=patient_id,
               description=description, modality="CT" if index % 2 == 0 else "MR")
        descriptions.append(description)
        patient_ids.append(patient_id)
    shared_uid = _store(colleague, name=f"{LONG_FAMILY}^SHARED^{tag}", patient_id=f"LAYOUT-{tag}-SHARED",
                        description=LONG_DESCRIPTION, modality="CT")
    response = colleague.client.post(f"/api/shares/studies/{shared_uid}", json={"email": doctor.email, "level": "read"})
    assert response.status_code in (200, 201), response.text
    return Worklist(doctor, OWN_STUDIES + 1, tuple(descriptions), tuple(patient_ids))


@pytest.fixture(scope="module")
def studies_page(browser: Browser, origin: str, worklist: Worklist):
    """The doctor's Studies page, signed in through the portal's own sign-in page."""
    context = new_context(browser, origin, viewport={"width": WIDTHS[0], "height": HEIGHT})
    page = context.new_page()
    sign_in(page, worklist.doctor.email, worklist.doctor.password)
    yield page
    context.close()


def _box(locator: Locator) -> dict[str, float]:
    """The element's box in CSS pixels of the window (x, y, width, height)."""
    box = locator.bounding_box()
    assert box is not None, f"{locator} has no box: it is not rendered"
    return box


def _show_list(page: Page, width: int, rows: int) -> Locator:
    """The Studies page laid out at `width` px, once its table shows every row."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.goto("/studies")
    table = page.get_by_role("table", name="Studies", exact=True)
    expect(table.locator("tbody tr")).to_have_count(rows)
    return table


def _horizontal_overflow(table: Locator) -> list[str]:
    """Every box from the table up to the document that is wider inside than it shows (would scroll sideways)."""
    return table.evaluate("""(table) => {
        const wide = [];
        for (let el = table; el; el = el.parentElement) {
            if (el.scrollWidth > el.clientWidth + 1) wide.push(`${el.tagName}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}`);
        }
        return wide;
    }""")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_row_is_one_line_with_its_actions_inside_the_table(studies_page: Page, worklist: Worklist, width: int,
                                                                 tmp_path: Path) -> None:
    page = studies_page
    table = _show_list(page, width, worklist.rows)
    page.screenshot(path=tmp_path / f"studies-{width}.png", full_page=True)
    logger.info("screenshot: %s", tmp_path / f"studies-{width}.png")

    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), \
        f"the page scrolls sideways at {width} px"
    assert _horizontal_overflow(table) == [], f"boxes wider than they show at {width} px"

    table_box = _box(table)
    assert table_box["x"] >= 0 and table_box["x"] + table_box["width"] <= width, \
        f"the table {table_box} does not fit in a {width} px wide window"
    rows = table.locator("tbody tr")
    heights = []
    for index in range(worklist.rows):
        row = rows.nth(index)
        heights.append(_box(row)["height"])
        actions = [row.get_by_role("link", name=re.compile("^Open ")), row.get_by_role("link", name=re.compile("^AI "))]
        if not row.get_by_text("read", exact=True).count():  # my own studies can also be shared and deleted
            actions += [row.get_by_role("button", name="Share", exact=True), row.get_by_role("button", name="Delete")]
        for action in actions:
            expect(action).to_be_visible()
            box = _box(action)
            for outer, what in ((table_box, "table"), (_box(action.locator("xpath=ancestor::td[1]")), "cell")):
                assert outer["x"] <= box["x"] and box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5, \
                    f"row {index}: {action} at {box} sticks out of its {what} {outer} at {width} px"
            assert box["x"] + box["width"] <= width, f"row {index}: {action} is outside the window at {width} px"
    assert max(heights) < MAX_ROW_HEIGHT, f"rows are taller than one line at {width} px: {heights}"
    assert max(heights) - min(heights) <= 1, f"rows differ in height at {width} px: {heights}"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_list_comes_first_and_the_upload_area_is_one_line(studies_page: Page, worklist: Worklist,
                                                               width: int) -> None:
    page = studies_page
    table = _show_list(page, width, worklist.rows)
    upload = _box(page.locator("#upload-studies"))
    first_row = _box(table.locator("tbody tr").first)
    assert upload["y"] > first_row["y"] or upload["height"] < 64, \
        f"the upload area {upload} sits above the list and is not collapsed at {width} px"
    assert first_row["y"] + first_row["height"] <= HEIGHT / 2, \
        f"the first study {first_row} is not in the upper half of a {width}×{HEIGHT} window"
    # Upload stays one click away: the file chooser's button is visible without scrolling.
    choose = page.locator("#upload-studies").get_by_text("Choose files", exact=True)
    expect(choose).to_be_visible()
    assert _box(choose)["y"] < HEIGHT


def test_long_texts_end_in_an_ellipsis_with_the_whole_text_as_tooltip(studies_page: Page, worklist: Worklist) -> None:
    page = studies_page
    table = _show_list(page, WIDTHS[0], worklist.rows)
    for text in (*worklist.descriptions, *worklist.patient_ids):
        cell = table.locator(f'td[title="{text}"]')
        expect(cell).to_have_count(1)
        expect(cell).to_have_text(text)
        clipped = cell.evaluate("""(td) => ({
            ellipsis: getComputedStyle(td).textOverflow === 'ellipsis',
            overflows: td.scrollWidth > td.clientWidth,
        })""")
        assert clipped == {"ellipsis": True, "overflows": True}, f"{text!r} is not cut to an ellipsis: {clipped}"
    name = table.locator("tbody tr").first.get_by_role("cell").first
    assert name.get_attribute("title", timeout=5_000).startswith(f"{LONG_FAMILY}, "), \
        "the patient name's tooltip is not its whole, readable name"


def test_an_upload_summary_opens_below_the_bar_and_closes_back_to_one_line(studies_page: Page, worklist: Worklist,
                                                                          tmp_path: Path) -> None:
    page = studies_page
    table = _show_list(page, WIDTHS[0], worklist.rows)
    (ds,) = ct_series(Patient(name=f"{LONG_FAMILY}^UPLOADED", patient_id=f"LAYOUT-UP-{uuid.uuid4().hex[:8]}"),
                      slices=1, rows=16, columns=16)
    (path,) = write_series([ds], tmp_path / "upload")
    upload = page.locator("#upload-studies")

    upload.get_by_label("Choose files").set_input_files(str(path))
    expect(upload.get_by_test_id("upload-summary").get_by_text("1 instance stored in 1 study")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(worklist.rows + 1)  # the list reloads with the new study
    page.screenshot(path=tmp_path / "summary.png")
    assert _box(upload)["height"] >= 64

    upload.get_by_role("button", name="Close upload summary").click()
    expect(upload.get_by_test_id("upload-summary")).to_have_count(0)
    assert _box(upload)["height"] < 64
    delete = table.locator("tbody tr").filter(has_text="UPLOADED").get_by_role("button", name="Delete")
    delete.click()
    dialog = page.get_by_role("dialog", name="Delete this study?")
    dialog.get_by_label("Current password").fill(worklist.doctor.password)
    dialog.get_by_role("button", name="Delete study").click()
    expect(table.locator("tbody tr")).to_have_count(worklist.rows)
