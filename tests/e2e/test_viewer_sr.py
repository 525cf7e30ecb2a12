"""What the real OHIF 3.13 viewer does with the platform's AI reports, built by `functions.common.dicom.results` exactly
as the executor builds them, stored through the gateway's STOW-RS while the study is open on the portal's viewer page,
then shown with the page's own action (`window.__mccViewer.showResult`, what the AI panel calls).

- The findings report (boxes and points as 2-D SCOORDs on the CT images they lie on): OHIF's SR viewport opens the
  box's slice and DRAWS the box's outline and the point there, checked in the viewport's pixels at the places the CT's
  own geometry gives, through cornerstone's world-to-canvas transform.
- The scores report (TID 1501 groups, no coordinates) is its own series: the findings report loads whole beside it;
  OHIF's loader still throws on the scores report itself, which is why the panel never shows it (the summary does).
- "Yes, track": OHIF offers it, but its adapters find no coordinates in our TID 1410 groups and track nothing.

docs/viewer-ai.md ("Reports (SR) in OHIF") says why. The tests share one open page and run in file order.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from PIL import Image
from playwright.sync_api import Browser
from pydicom import Dataset

from functions.common.dicom.results import AlgorithmInfo, report, score_report
from functions.common.dicom.validation import parse_part10
from functions.common.dicom.volumes import volume_from_datasets
from model_builder import Box, Boxes, Code, Label, Point, Points, Scores
from tests.e2e.ohif import VIEWPORT_CANVAS
from tests.e2e.test_viewer import Platform, platform  # noqa: F401  (the signed-in health professional fixture)
from tests.e2e.viewer_page import ViewerPage, viewer_page_on
from tests.support.dicomweb import stow

logger = logging.getLogger(__name__)

SLICES, SIZE = 32, 128
NODULE = Label("Nodule", Code("27925004", "SCT", "Nodule"), (255, 0, 0))
CARINA = Label("Carina")  # no code: the generic finding type
LABELS = (NODULE, CARINA)
MODEL = AlgorithmInfo("Chest findings", 2, "0123456789abcdef" * 4)
BOX = Box(1, (12, 40, 50), (18, 70, 90), 0.75)  # slices 12-18: its outline lies on slice 15
POINT = Point(2, (15.0, 100.0, 30.0), 0.5)  # on the box's slice, away from the box
FINDINGS = (Boxes((BOX,)), Points((POINT,)))
SCORES = Scores({"Nodule": 0.875, "Carina": 0.25})

# The SR display set as OHIF's SOP class handler made it, and what the active viewport shows.
_SR_STATE = """([srUid, ctUid]) => {
  const s = window.services;
  const ds = s.displaySetService.getDisplaySetsForSeries(srUid)[0];
  const ct = s.displaySetService.getDisplaySetsForSeries(ctUid)[0];
  if (!ds || !ct) return null;
  const vpId = s.viewportGridService.getActiveViewportId();
  const vp = s.cornerstoneViewportService.getCornerstoneViewport(vpId);
  return {
    isLoaded: !!ds.isLoaded, handler: ds.SOPClassHandlerId, rehydratable: !!ds.isRehydratable,
    ct: ct.displaySetInstanceUID, sr: ds.displaySetInstanceUID,
    shown: s.viewportGridService.getDisplaySetsUIDsForViewport(vpId),
    image: vp && vp.getCurrentImageId ? vp.getCurrentImageId() || null : null,
    measurements: (ds.measurements || []).map(m => ({
      id: m.TrackingIdentifier, loaded: !!m.loaded, on: m.displaySetInstanceUID || null,
      sop: m.ReferencedSOPInstanceUID || null, labels: m.labels.map(l => `${l.label}: ${l.value}`),
      coords: m.coords.map(c => ({type: c.ValueType, graphic: c.GraphicType, data: Array.from(c.GraphicData)}))})),
  };
}"""

# Where patient points (LPS mm) are on the active viewport's canvas (CSS pixels), by cornerstone's own transform.
_TO_CANVAS = """points => {
  const s = window.services;
  const vp = s.cornerstoneViewportService.getCornerstoneViewport(s.viewportGridService.getActiveViewportId());
  return points.map(p => Array.from(vp.worldToCanvas(p)));
}"""

# OHIF's own load of an SR display set (what its SR viewport awaits): 'loaded', or the error it failed with.
_RELOAD = """uid => window.services.displaySetService.getDisplaySetsForSeries(uid)[0].load()
  .then(() => 'loaded', e => String(e))"""

# OHIF's data source asked for one series' metadata, as the bridge does (its study cache dropped), without showing it.
_FETCH = """async ([study, series]) => {
  const [source] = window.extensionManager.getActiveDataSource();
  source.deleteStudyMetadataPromise(study);
  source.deleteStudyMetadataPromise(`${source.getConfig().name}:${study}`);
  await source.retrieve.series.metadata({StudyInstanceUID: study, filters: {seriesInstanceUID: [series]}});
}"""
_DISPLAY_SETS = "uid => window.services.displaySetService.getDisplaySetsForSeries(uid).length"

_TRACKED = """() => window.services.measurementService.getMeasurements().map(m => ({
  tool: m.toolName, sop: m.referencedImageId ? m.referencedImageId.split('/instances/')[1].split('/')[0] : null,
  points: m.points}))"""


def _at(series: Sequence[Dataset], z: float, y: float, x: float) -> np.ndarray:
    """Where voxel (z, y, x) is in patient space (LPS mm), from the CT's DICOM attributes alone."""
    first, second = (np.array([float(v) for v in ds.ImagePositionPatient]) for ds in series[:2])
    orientation = np.array([float(v) for v in series[0].ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in series[0].PixelSpacing)
    return first + z * (second - first) + x * column_spacing * orientation[:3] + y * row_spacing * orientation[3:]


def _stored(viewer_page: ViewerPage, platform: Platform, build) -> Dataset:  # noqa: F811
    """A report of the open CT built by `build(series, volume)` as the executor builds it, stored through the gateway."""
    series = [parse_part10(to_bytes(ds)) for ds in viewer_page.study]  # as the executor reads them back
    sr = build(series, volume_from_datasets(series))
    response = stow(platform.client, [sr])
    assert response.status_code == 200, response.text
    return sr


def _findings(outputs: Sequence) -> Any:
    return lambda series, volume: report(series, LABELS, outputs, volume=volume, algorithm=MODEL)


def _show_loaded(viewer_page: ViewerPage, sr: Dataset, timeout: float = 60) -> dict[str, Any]:
    """Run the page's "show this result" on the SR and wait until OHIF has placed its measurements; its state then."""
    viewer_page.page.evaluate("uid => window.__mccViewer.showResult(uid)", str(sr.SeriesInstanceUID))
    uids = [str(sr.SeriesInstanceUID), str(viewer_page.study[0].SeriesInstanceUID)]
    deadline = time.monotonic() + timeout
    while True:
        state = viewer_page.frame.evaluate(_SR_STATE, uids)
        placed = state and state["isLoaded"] and state["measurements"] and all(
            m["loaded"] for m in state["measurements"])
        if placed or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    errors = [line for line in viewer_page.console if line.startswith("error")][-5:]
    assert placed, f"OHIF did not load and place the SR: {state}; console errors: {errors}"
    return state


def _viewport_rgb(viewer_page: ViewerPage) -> tuple[np.ndarray, float]:
    """The viewport as the user sees it (image and the SVG annotation layer over it), and its pixels per CSS pixel."""
    box = viewer_page.frame.locator(VIEWPORT_CANVAS).first.bounding_box()
    assert box is not None
    rgb = np.asarray(Image.open(io.BytesIO(viewer_page.page.screenshot(clip=box))).convert("RGB"), dtype=np.int32)
    return rgb, rgb.shape[1] / box["width"]


def _annotation_colour(rgb: np.ndarray) -> np.ndarray:
    """OHIF's SR annotation colours, green (the selected finding) and yellow (the others); never the grey CT or the
    blue interface."""
    return (rgb[..., 1] > 180) & (rgb[..., 2] < 110) & (rgb[..., 1] - rgb[..., 2] > 100)


def _hits(mask: np.ndarray, points: np.ndarray, radius: int = 1) -> float:
    """The fraction of `points` (x, y pixels) with a masked pixel within `radius`."""
    found = 0
    for x, y in np.rint(points).astype(int):
        window = mask[max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1]
        found += bool(window.any())
    return found / len(points)


def _edge_samples(a: np.ndarray, b: np.ndarray, margin: float = 4, count: int = 40) -> np.ndarray:
    """Points along segment a→b, leaving `margin` pixels at both ends (the corners' handles, the label's link)."""
    length = float(np.linalg.norm(b - a))
    t = np.linspace(margin / length, 1 - margin / length, count)
    return a + t[:, None] * (b - a)


@pytest.fixture(scope="module")
def viewer_page(browser: Browser, platform: Platform) -> Iterator[ViewerPage]:  # noqa: F811
    """A 32-slice CT stored through the gateway, open on the portal's viewer page with its image on screen."""
    series = ct_series(Patient(name="VIEWER^SR", patient_id="MCC-VIEW-SR"), slices=SLICES, rows=SIZE, columns=SIZE)
    assert stow(platform.client, series).status_code == 200
    with viewer_page_on(browser, platform.url, platform.cookies, series) as opened:
        yield opened


def test_ohif_opens_the_box_slice_and_draws_the_box_outline_and_the_point_there(
        viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    series, frame = viewer_page.study, viewer_page.frame
    sr = _stored(viewer_page, platform, _findings(FINDINGS))
    started = time.monotonic()
    state = _show_loaded(viewer_page, sr)
    placed = time.monotonic()

    # OHIF read one measurement per finding, named as our tracking identifiers, our values as its labels, each
    # placed on the CT image (slice 15) its SCOORD references.
    assert state["shown"] == [state["sr"]]
    measurements = {m["id"]: m for m in state["measurements"]}
    assert list(measurements) == ["Nodule box 1", "Carina point 1"]
    assert measurements["Nodule box 1"]["labels"] == ["Probability: 0.75 1", "Depth: 17.50 mm"]  # 7 slices × 2.5 mm
    for measurement in measurements.values():
        assert measurement["on"] == state["ct"] and measurement["sop"] == series[15].SOPInstanceUID, measurement
        assert measurement["coords"][0]["type"] == "SCOORD"

    # The SR viewport shows that image, with the outline and the point drawn in OHIF's annotation colours.
    deadline = time.monotonic() + 60
    while True:
        state = frame.evaluate(_SR_STATE, [str(sr.SeriesInstanceUID), str(series[0].SeriesInstanceUID)])
        rgb, scale = _viewport_rgb(viewer_page)
        drawn = _annotation_colour(rgb)
        on_slice = (state["image"] or "").endswith(f"/instances/{series[15].SOPInstanceUID}/frames/1")
        if (on_slice and drawn.mean() > 0.001) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    logger.info("showResult → measurements placed %.2f s → drawn %.2f s", placed - started, time.monotonic() - started)
    assert on_slice, f"the viewport shows {state['image']}, not the box's slice (instance {series[15].SOPInstanceUID})"

    # Where the CT's geometry puts the box's voxel edges and the point, on this canvas.
    corners = [_at(series, 15, y, x) for y, x in ((39.5, 49.5), (39.5, 90.5), (70.5, 90.5), (70.5, 49.5))]
    *outline, point = (np.asarray(frame.evaluate(_TO_CANVAS, [p.tolist() for p in (*corners, _at(series, 15, 100, 30))]))
                       * scale)
    for a, b in zip(outline, outline[1:] + outline[:1], strict=True):
        samples = _edge_samples(a, b)
        assert _hits(drawn, samples) > 0.4, f"the box's edge {a}→{b} is not drawn ({_hits(drawn, samples):.2f})"
        # A voxel off (what a centre-for-edge or a slice-order mistake would draw) is not where the line is.
        voxel = np.linalg.norm(outline[1] - outline[0]) / 41
        normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
        for shifted in (samples + normal * voxel, samples - normal * voxel):
            assert _hits(drawn, shifted) < 0.2, f"the box's edge {a}→{b} is drawn a voxel off"
    inside = drawn[int(outline[0][1]) + 6:int(outline[2][1]) - 6, int(outline[0][0]) + 6:int(outline[2][0]) - 6]
    assert inside.mean() < 0.01, "the box is filled or drawn elsewhere"
    assert _hits(drawn, point[None, :], radius=3) == 1.0, f"nothing drawn at the point {point}"
    x, y = np.rint(point).astype(int)
    assert not drawn[y - 40:y + 40, x - 40:x + 40].all(), "the point's surroundings are painted over"


def test_a_scores_report_is_its_own_series_and_leaves_the_findings_whole(
        viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    """Before, scores in the findings report made OHIF's loader throw and place nothing before them."""
    series, frame = viewer_page.study, viewer_page.frame
    scores = _stored(viewer_page, platform, lambda s, volume: score_report(s, LABELS, SCORES, volume=volume,
                                                                          algorithm=MODEL))
    findings = _stored(viewer_page, platform, _findings(FINDINGS))
    assert scores.SeriesInstanceUID != findings.SeriesInstanceUID
    state = _show_loaded(viewer_page, findings)  # every box and point placed, with the scores report in the study
    assert [m["id"] for m in state["measurements"]] == ["Nodule box 1", "Carina point 1"]
    assert frame.evaluate(_RELOAD, str(findings.SeriesInstanceUID)) == "loaded"
    # The scores report on its own: OHIF 3.13 reads its groups, then throws placing the first (no coordinates). The
    # panel therefore never shows it (resultSeries, web/tests/api/inference.test.ts); the summary lists the scores.
    frame.evaluate(_FETCH, [str(series[0].StudyInstanceUID), str(scores.SeriesInstanceUID)])
    frame.wait_for_function(_DISPLAY_SETS, arg=str(scores.SeriesInstanceUID), timeout=30_000)
    failure = frame.evaluate(_RELOAD, str(scores.SeriesInstanceUID))
    assert "reading 'ReferencedSOPSequence'" in failure, failure


def test_yes_tracks_none_of_the_findings_in_ohif_3_13(viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    """OHIF offers to track the findings (its RectangleROI and Probe adapters match a 5-point POLYLINE and a POINT
    "Image Region"), but its adapters find no coordinates in them: they look in a group's first NUM for an "INFERRED
    FROM" SCOORD (TID 300), which a TID 1410 group's NUMs (TID 1419) do not have; a scoreless point is refused too."""
    frame = viewer_page.frame
    sr = _stored(viewer_page, platform, _findings((Boxes((BOX,)), Points((Point(2, (15.0, 100.0, 30.0)),)))))
    state = _show_loaded(viewer_page, sr)
    assert state["rehydratable"]
    since = len(viewer_page.console)
    yes = frame.locator('[data-cy="yes-hydrate-btn"]')
    yes.wait_for(state="visible", timeout=30_000)
    yes.click()
    deadline = time.monotonic() + 30
    while not any("Didn't find any tracked measurements" in line for line in viewer_page.console[since:]):
        assert time.monotonic() < deadline, viewer_page.console[since:][-10:]
        time.sleep(0.2)
    refused = [line for line in viewer_page.console[since:] if "No spatial coordinates group found" in line]
    assert any("RectangleROI.getMeasurementData" in line for line in refused), refused  # the box
    assert any("Probe.getMeasurementData" in line for line in refused), refused  # the point
    assert frame.evaluate(_TRACKED) == []
