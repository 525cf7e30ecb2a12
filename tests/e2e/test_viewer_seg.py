"""An AI result stored while a study is open on the portal's viewer page is drawn over the image, with no reload.

The page /studies/<uid>/view frames the real OHIF 3.13 viewer (same origin) beside the AI panel. A DICOM SEG of the
CT on screen is stored through the gateway's STOW-RS, as an inference job stores its result; then the page's
"show this result" action runs (`window.__mccViewer.showResult`, the function the panel calls when a job it follows is
done, or on "Show result") and the segment's colour must appear over the CT in the viewer's pixels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series
from PIL import Image
from playwright.sync_api import Browser, expect
from pydicom import Dataset
from pydicom.sr.codedict import codes

from tests.e2e.test_viewer import Platform, platform  # noqa: F401  (the signed-in health professional fixture)
from tests.e2e.viewer_page import ViewerPage, canvas_rgb, viewer_page_on
from tests.support.dicomweb import stow

logger = logging.getLogger(__name__)

SLICES, SIZE = 32, 128
SEGMENTED = range(SLICES // 2 - 6, SLICES // 2 + 6)  # the middle slices (by position in the series)
COLOUR = (0, 255, 0)  # vivid green: neither the greyscale CT nor OHIF's blue interface

_SLICE_SHOWN = """() => {
  const s = window.services;
  const vp = s.cornerstoneViewportService.getCornerstoneViewport(s.viewportGridService.getActiveViewportId());
  return vp.getCurrentImageIdIndex();
}"""


def _ellipse_mask(series: list[Dataset]) -> np.ndarray:
    """A centred ellipse (in the chest, between the lungs) on the middle slices, nothing elsewhere."""
    mask = np.zeros((len(series), SIZE, SIZE), np.uint8)
    rows, columns = np.ogrid[:SIZE, :SIZE]
    ellipse = ((rows - SIZE / 2) / (SIZE * 0.18)) ** 2 + ((columns - SIZE / 2) / (SIZE * 0.25)) ** 2 <= 1
    mask[SEGMENTED.start:SEGMENTED.stop] = ellipse
    return mask


def _seg_of(series: list[Dataset]) -> hd.seg.Segmentation:
    """A binary DICOM SEG of `series` (one segment, green), as an AI model's result would be."""
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="Finding", segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="MCC viewer test", version="1", family=codes.cid7162.ArtificialIntelligence),
        display_color=hd.color.CIELabColor.from_rgb(*COLOUR))
    return hd.seg.Segmentation(
        source_images=series, pixel_array=_ellipse_mask(series), segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=90, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="MedCloudCare", manufacturer_model_name="viewer test", software_versions="1",
        device_serial_number="1", series_description="AI result")


def _segment_colour(rgb: np.ndarray) -> np.ndarray:
    """Where the viewport shows the segment's green (filled at OHIF's opacity over grey, or its opaque outline)."""
    return (rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])) > 60


@pytest.fixture(scope="module")
def viewer_page(browser: Browser, platform: Platform) -> Iterator[ViewerPage]:  # noqa: F811
    """A 32-slice CT stored through the gateway, open on the portal's viewer page with its image on screen."""
    series = ct_series(Patient(name="VIEWER^SEG", patient_id="MCC-VIEW-SEG"), slices=SLICES, rows=SIZE, columns=SIZE)
    assert stow(platform.client, series).status_code == 200
    with viewer_page_on(browser, platform.url, platform.cookies, series) as opened:
        yield opened


def test_a_seg_stored_while_the_study_is_open_is_drawn_over_its_image(
        viewer_page: ViewerPage, platform: Platform, tmp_path: Path) -> None:  # noqa: F811
    page, frame, series = viewer_page.page, viewer_page.frame, viewer_page.study
    assert not _segment_colour(canvas_rgb(frame)).any(), "green on the CT before any result was stored"
    # The panel follows the series on screen, read from OHIF's active viewport.
    page.wait_for_function("uid => window.__mccViewer && window.__mccViewer.activeSeries() === uid",
                           arg=str(series[0].SeriesInstanceUID), timeout=30_000)

    seg = _seg_of(series)
    assert stow(platform.client, [seg]).status_code == 200
    stored = time.monotonic()
    page.evaluate("uid => window.__mccViewer.showResult(uid)", str(seg.SeriesInstanceUID))
    shown = time.monotonic()
    deadline = shown + 60
    while True:
        green = _segment_colour(rgb := canvas_rgb(frame))
        if green.mean() > 0.03 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    visible = time.monotonic()
    logger.info("result stored → showResult resolved %.2f s → overlay visible %.2f s", shown - stored, visible - stored)
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "viewport.png")
    logger.info("viewport: %s", tmp_path / "viewport.png")

    errors = [line for line in viewer_page.console if line.startswith("error")][-5:]
    assert green.mean() > 0.03, f"no segment colour over the image ({green.mean():.4f}); console errors: {errors}"
    # OHIF moved to a segmented slice, and the green is the centred ellipse over the chest, not a stray UI element.
    assert frame.evaluate(_SLICE_SHOWN) in SEGMENTED
    points = np.argwhere(green)
    centre = points.mean(axis=0) / np.array(green.shape)
    assert np.allclose(centre, 0.5, atol=0.1), f"the green is not centred on the image: {centre}"
    height, width = np.percentile(points, 99, axis=0) - np.percentile(points, 1, axis=0)
    assert 0.5 < height / width < 0.95, f"the green ({width:.0f}×{height:.0f}) is not the segment's flat ellipse"
    # Drawn without asking: no "Do you want to open this Segmentation?" left over the image.
    expect(frame.get_by_text("Do you want to open this Segmentation?")).to_have_count(0)
