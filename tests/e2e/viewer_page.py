"""The portal's viewer page (/studies/<uid>/view: OHIF framed beside the AI panel) opened on a study, for browser
tests: the page, OHIF's frame found by its iframe element, and what the browser's console said."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Frame, Page
from pydicom import Dataset

from tests.e2e.ohif import IMAGE_SHOWN, VIEWPORT_CANVAS, quiet_onboarding
from tests.e2e.portal import new_context

logger = logging.getLogger(__name__)


@dataclass
class ViewerPage:
    page: Page
    frame: Frame
    study: list[Dataset]
    console: list[str]


def canvas_rgb(frame: Frame) -> np.ndarray:
    """The first viewport's image canvas as RGB pixels (int32)."""
    png = frame.locator(VIEWPORT_CANVAS).first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int32)


def viewer_frame(page: Page) -> Frame:
    """The frame of the page's viewer iframe, found by its element: a frame's URL can read '' for a while after it
    has loaded (seen once on a busy CI machine), so it is not looked up by URL."""
    frame = page.get_by_title("Image viewer").element_handle().content_frame()
    assert frame is not None, "the viewer iframe has no frame"
    return frame


def open_viewer_page(page: Page, study_uid: str, console: list[str], attempts: int = 2) -> Frame:
    """Open the study's viewer page and wait for OHIF's image in its frame.

    The first load of OHIF (its bundles, WebGL on SwiftShader) can take a minute or more on a busy 2-core machine.
    The in-process origin has also dropped one of OHIF's lazy chunks now and then ("Loading CSS chunk … failed"),
    which leaves OHIF without a viewport; one more load of the page is allowed for that, logged.
    """
    for attempt in range(1, attempts + 1):
        page.goto(f"/studies/{study_uid}/view")
        page.get_by_title("Image viewer").wait_for(state="visible")
        frame = viewer_frame(page)
        try:
            frame.wait_for_function(IMAGE_SHOWN, timeout=120_000)
        except Exception:
            errors = [line for line in console if line.startswith("error")][-3:]
            if attempt == attempts:
                raise
            logger.warning("the viewer showed no image (attempt %d, frame %r); console errors: %s",
                           attempt, frame.url, errors)
            continue
        return frame
    raise AssertionError("unreachable")


@contextmanager
def viewer_page_on(browser: Browser, url: str, cookies: Sequence[dict], series: list[Dataset]) -> Iterator[ViewerPage]:
    """A signed-in browser (its session `cookies`) on the viewer page of `series`' study (already stored), with
    OHIF's image on screen."""
    context = new_context(browser, url, viewport={"width": 1280, "height": 900})
    context.add_cookies(list(cookies))
    page = context.new_page()
    quiet_onboarding(page)  # init scripts run in the framed viewer too
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        frame = open_viewer_page(page, str(series[0].StudyInstanceUID), console)
        yield ViewerPage(page, frame, series, console)
    finally:
        context.close()
