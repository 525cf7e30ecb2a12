"""Driving the real OHIF viewer (prebuilt @ohif/app 3.13.2, basic viewer mode) from Playwright.

A helper module for browser tests, not a test file. The flow it wraps, as OHIF 3.13.2 does it:

- `open_study`: /viewer?StudyInstanceUIDs=<uid> (our app-config rewrites it to /viewer/viewer?…), wait until
  the active viewport has an image, get OHIF's first-visit tour and "investigational use" banner out of the way.
- `draw_length`: the toolbar's Length tool (`[data-cy="Length-btn"]`, else the Measurement Tools menu), one drag
  on the viewport. The first measurement on a series makes OHIF ask "Track measurements for this series?" inside
  the viewport; only "Yes" (`[data-cy="prompt-begin-tracking-yes-btn"]`) tracks it. Any other click first
  counts as "No": the measurement stays listed and drawn (dashed) but "Create SR" then silently does nothing.
  (A first measurement on another series of the tracked study asks "Create new report" / "Add to existing
  report" instead; the helper adds it to the existing report.)
- `save_measurements`: the measurements panel (right side, `[data-cy="trackedMeasurements-btn"]`) → "Create SR" →
  dialog "Create Report" (report name in `[data-cy="dialog-input"]`, "Save") → one STOW-RS POST of a DICOM SR
  (Enhanced SR, implicit VR little endian) to /dicom-web/studies, as `multipart/related; type="application/dicom"`.
  The page's app-config.js adds the `X-CSRF-Token` header the gateway requires.
  After a 200 OHIF clears the tracked measurements, shows the new SR in the active viewport and asks
  "Do you want to continue tracking measurements for this study?".
- `open_saved_measurements`: reload the viewer (everything comes back from the gateway), double-click the SR
  series in the study browser, answer "Yes" to the same question (`[data-cy="yes-hydrate-btn"]`): the SR's
  measurements become tracked, editable measurements again, drawn on the image and listed in the panel.

OHIF's globals (`window.services`, set by its cornerstone extension) are read only to wait for states the UI
does not expose (an image in the viewport, whether a series is tracked).
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page

VIEWPORT_CANVAS = "canvas.cornerstone-canvas"
STOW_PATH = re.compile(r"/dicom-web/studies(/[^/?]+)?$")

# OHIF keeps these in the browser's storage once dismissed; a fresh test browser would show them on every
# visit, over the viewport and toolbar, at a moment of their choosing.
_QUIET_ONBOARDING = """
(() => {
  try {
    const tours = JSON.parse(localStorage.getItem('shownTours') || '[]');
    if (!tours.includes('basicViewerTour')) {
      localStorage.setItem('shownTours', JSON.stringify([...tours, 'basicViewerTour']));
    }
    sessionStorage.setItem('investigationalUseDialog', 'hidden');
  } catch (e) {}
})();
"""

# Whether the active viewport shows an image. OHIF publishes its services before their React providers are wired:
# until then they throw.
IMAGE_SHOWN = """() => {
  try {
    const s = window.services;
    const vp = s.cornerstoneViewportService.getCornerstoneViewport(s.viewportGridService.getActiveViewportId());
    return !!(vp && vp.getCurrentImageId() && vp.getImageData());
  } catch (e) {
    return false;
  }
}"""

_ACTIVE_SERIES_TRACKED = """() => {
  const s = window.services;
  const vp = s.viewportGridService.getState().viewports.get(s.viewportGridService.getActiveViewportId());
  const ds = vp && vp.displaySetInstanceUIDs && s.displaySetService.getDisplaySetByUID(vp.displaySetInstanceUIDs[0]);
  return !!ds && s.trackedMeasurementsService.getTrackedSeries().includes(ds.SeriesInstanceUID);
}"""


def quiet_onboarding(page: Page) -> None:
    """Keep OHIF's first-visit tour and "investigational use" banner away from every page this tab loads."""
    page.add_init_script(_QUIET_ONBOARDING)


def open_study(page: Page, base_url: str, study_uid: str, timeout: float = 60.0) -> None:
    """Open the portal's link to a study and wait until OHIF's active viewport shows an image."""
    quiet_onboarding(page)
    page.goto(f"{base_url}/viewer?StudyInstanceUIDs={study_uid}")
    page.wait_for_url(re.compile(r"/viewer/viewer\?StudyInstanceUIDs="), timeout=timeout * 1000)
    _wait_for_image(page, timeout)


def draw_length(page: Page, start: tuple[float, float] = (0.4, 0.5), end: tuple[float, float] = (0.55, 0.55),
                timeout: float = 15.0) -> str:
    """Select the Length tool, drag it across the active viewport and make the measurement a tracked one.

    `start` and `end` are fractions of the viewport canvas (away from its top edge, where OHIF's prompts sit).
    Returns the measurement's text as OHIF shows it, e.g. "75.1 mm".
    """
    before = _measurement_count(page)
    was_tracked = page.evaluate(_ACTIVE_SERIES_TRACKED)
    _select_length_tool(page)
    box = _active_canvas(page).bounding_box()
    assert box, "no viewport canvas"
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    page.wait_for_function(f"() => window.services.measurementService.getMeasurements().length > {before}",
                           timeout=timeout * 1000)
    if not was_tracked:
        # First measurement of the session: "Track measurements for this series?"; on another series of a
        # study already tracked: "Create new report" / "Add to existing report".
        yes = page.locator('[data-cy="prompt-begin-tracking-yes-btn"]').or_(
            page.get_by_role("button", name="Add to existing report", exact=True))
        yes.first.wait_for(state="visible", timeout=timeout * 1000)
        yes.first.click()
        page.wait_for_function(_ACTIVE_SERIES_TRACKED, timeout=timeout * 1000)
    text = page.evaluate("""() => {
      const all = window.services.measurementService.getMeasurements();
      const m = all[all.length - 1];
      const primary = m && m.displayText && m.displayText.primary;
      return primary && primary.length ? primary.join(' ') : '';
    }""")
    return text


def save_measurements(page: Page, report_name: str | None = None, timeout: float = 30.0) -> int:
    """Save the tracked measurements as a DICOM SR (STOW-RS through the gateway); return the POST's status.

    On 200 OHIF shows the new SR in the active viewport with a "continue tracking?" question over it;
    on an error it shows an error notification and keeps the measurements.
    """
    panel = open_measurements_panel(page)
    panel.get_by_role("button", name="Create SR").click()
    dialog = page.get_by_role("dialog", name="Create Report")
    dialog.wait_for(state="visible", timeout=timeout * 1000)
    if report_name:
        dialog.locator('[data-cy="dialog-input"]').fill(report_name)
    with page.expect_response(lambda r: r.request.method == "POST" and bool(STOW_PATH.search(urlparse(r.url).path)),
                              timeout=timeout * 1000) as stow:
        dialog.get_by_role("button", name="Save", exact=True).click()
    status = stow.value.status
    if status == 200:
        dialog.wait_for(state="hidden", timeout=timeout * 1000)
    return status


def open_saved_measurements(page: Page, report_name: str | None = None, hydrate: bool = True,
                            timeout: float = 60.0) -> None:
    """Reopen the study (a reload: the SR comes back from the gateway) and show a saved SR's measurements.

    Picks the SR series named `report_name` (the "Create Report" dialog's name; OHIF's default is
    "Create Report"), or the newest SR series (highest series number). With `hydrate` (OHIF's "Yes" to
    "continue tracking measurements?"), the SR's measurements are loaded as tracked measurements: drawn on
    the image and listed in the measurements panel. Without it, the SR is only shown read-only in the viewport.
    """
    study_uid = parse_qs(urlparse(page.url).query).get("StudyInstanceUIDs", [None])[0]
    assert study_uid, f"not a study in the viewer: {page.url}"
    page.reload()
    _wait_for_image(page, timeout)
    series = _sr_series_item(page, report_name, timeout)
    series.dblclick()
    if hydrate:
        yes = page.locator('[data-cy="yes-hydrate-btn"]')
        yes.wait_for(state="visible", timeout=timeout * 1000)
        yes.click()
        page.wait_for_function(_ACTIVE_SERIES_TRACKED, timeout=timeout * 1000)
    else:
        # The SR viewport draws the report's annotations on its next render, which nothing triggers in a
        # headless browser: one step down and back up through the stack does.
        page.locator('[data-cy="no-hydrate-btn"]').wait_for(state="visible", timeout=timeout * 1000)
        _wait_for_image(page, timeout)
        box = _active_canvas(page).bounding_box()
        assert box
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.6)
        page.mouse.wheel(0, 100)
        time.sleep(0.3)
        page.mouse.wheel(0, -100)


def viewport_measurement_labels(page: Page) -> list[str]:
    """Text drawn over the viewports' images by the annotation tools (e.g. "75.1 mm", or ": 75.11 mm" for a
    read-only SR annotation)."""
    texts = page.locator('[data-cy="viewport-grid"] svg text').evaluate_all(
        "nodes => nodes.map(n => n.textContent.trim()).filter(Boolean)")
    return list(texts)


def panel_measurement_labels(page: Page) -> list[str]:
    """The measurements panel's primary values (e.g. "75.1 mm"), one per listed measurement."""
    panel = open_measurements_panel(page)
    return [t.strip() for t in panel.locator('[data-cy="data-row-details-primary"]').all_inner_texts()]


def visible_measurement_labels(page: Page) -> list[str]:
    """Every measurement value on screen: over the image and in the measurements panel."""
    return viewport_measurement_labels(page) + panel_measurement_labels(page)


def wait_for_measurement_label(page: Page, pattern: str = r"\d+(\.\d+)? mm", where: str = "both",
                               timeout: float = 15.0) -> list[str]:
    """Wait until a label matching `pattern` is shown (`where`: "viewport", "panel" or "both"); return the labels."""
    read = {"viewport": viewport_measurement_labels, "panel": panel_measurement_labels}
    sources = list(read) if where == "both" else [where]
    deadline = time.monotonic() + timeout
    while True:
        found = {s: read[s](page) for s in sources}
        if all(any(re.search(pattern, label) for label in found[s]) for s in sources):
            return [label for s in sources for label in found[s]]
        if time.monotonic() > deadline:
            raise AssertionError(f"no measurement label like {pattern!r} in {found}")
        time.sleep(0.25)


def open_measurements_panel(page: Page) -> Locator:
    """The right-hand measurements panel, opened if it is not."""
    panel = page.locator('[data-cy="trackedMeasurements-panel"]')
    if not panel.first.is_visible():
        page.locator('[data-cy="trackedMeasurements-btn"]').click()
    panel.first.wait_for(state="visible")
    return panel.first


def _wait_for_image(page: Page, timeout: float) -> None:
    page.locator(VIEWPORT_CANVAS).first.wait_for(state="visible", timeout=timeout * 1000)
    page.wait_for_function(IMAGE_SHOWN, timeout=timeout * 1000)


def _active_canvas(page: Page) -> Locator:
    active = page.evaluate("() => window.services.viewportGridService.getActiveViewportId()")
    pane = page.locator(f'[data-viewportid="{active}"] {VIEWPORT_CANVAS}')
    return pane.first if pane.count() else page.locator(VIEWPORT_CANVAS).first


def _measurement_count(page: Page) -> int:
    return page.evaluate("() => window.services.measurementService.getMeasurements().length")


def _select_length_tool(page: Page) -> None:
    button = page.locator('[data-cy="Length-btn"]')
    if not button.is_visible():  # another measurement tool was picked last: Length is in the split button's menu
        page.locator('[data-cy="MeasurementTools-split-button-secondary"]').click()
        page.get_by_role("menuitem", name="Length", exact=True).click()
    else:
        button.click()


def _sr_series_item(page: Page, report_name: str | None, timeout: float) -> Locator:
    items = page.locator('[data-cy="study-browser-thumbnail-no-image"]').filter(
        has=page.locator('[data-cy="series-modality-label"]', has_text=re.compile(r"^SR$")))
    if report_name:
        items = items.filter(has=page.locator('[data-cy="series-description-label"]',
                                              has_text=re.compile(rf"^{re.escape(report_name)}$")))
    items.first.wait_for(state="visible", timeout=timeout * 1000)
    numbers = [int(m.group(1)) if (m := re.search(r"S:\s*(\d+)", text)) else -1 for text in items.all_inner_texts()]
    return items.nth(numbers.index(max(numbers)))
