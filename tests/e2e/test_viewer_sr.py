"""What the real OHIF 3.13 viewer does with the platform's AI report: a Comprehensive 3D SR (TID 1500) of boxes,
points and scores, built by `functions.common.dicom.results.report` exactly as the executor builds it, stored through
the gateway's STOW-RS while the study is open on the portal's viewer page, then shown with the page's own action
(`window.__mccViewer.showResult`, what the AI panel calls).

OHIF's cornerstone-dicom-sr extension reads our report: the SR display set loads as a 3D SR imaging measurement
report, one measurement per box or point named by its tracking identifier, with our probabilities and depths as its
labels, and each SCOORD3D is placed on the CT by its frame of reference (a DICOMSRDisplay annotation at our patient
coordinates). What OHIF 3.13 does not do with it — draw those 3D annotations in its stack-only SR viewport, hydrate
them into the measurements panel, survive a score (a measurement group without coordinates) — is asserted too, as
the behaviour docs/viewer-ai.md ("Reports (SR) in OHIF") explains; when an OHIF upgrade changes it, these tests say so.

The tests share one open page and run in file order: the report with scores comes first, in a viewport that has shown
no SR yet (OHIF's SR viewport keeps the image of the previous SR it showed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from playwright.sync_api import Browser
from pydicom import Dataset

from functions.common.dicom.results import AlgorithmInfo, report
from functions.common.dicom.validation import parse_part10
from functions.common.dicom.volumes import volume_from_datasets
from model_builder import Box, Boxes, Code, Label, Point, Points, Scores
from tests.e2e.ohif import quiet_onboarding
from tests.e2e.portal import new_context
from tests.e2e.test_viewer import Platform, platform  # noqa: F401  (the signed-in health professional fixture)
from tests.e2e.test_viewer_seg import _IMAGE_SHOWN, ViewerPage, _open_viewer_page
from tests.support.dicomweb import stow

logger = logging.getLogger(__name__)

SLICES, SIZE = 32, 128
NODULE = Label("Nodule", Code("27925004", "SCT", "Nodule"), (255, 0, 0))
CARINA = Label("Carina")  # no code: the generic finding type
LABELS = (NODULE, CARINA)
MODEL = AlgorithmInfo("Chest findings", 2, "0123456789abcdef" * 4)
BOX = Box(1, (12, 40, 50), (18, 70, 90), 0.75)  # slices 12-18: its outline lies on slice 15
POINT = Point(2, (16.0, 64.0, 64.0), 0.5)
FINDINGS = (Boxes((BOX,)), Points((POINT,)))
SCORES = Scores({"Nodule": 0.875, "Carina": 0.25})

# The SR display set as OHIF's SOP class handler made it, and the CT display set its SCOORD3Ds were placed on.
_SR_STATE = """([srUid, ctUid]) => {
  const s = window.services;
  const ds = s.displaySetService.getDisplaySetsForSeries(srUid)[0];
  const ct = s.displaySetService.getDisplaySetsForSeries(ctUid)[0];
  if (!ds || !ct) return null;
  const vpId = s.viewportGridService.getActiveViewportId();
  return {
    isLoaded: !!ds.isLoaded, handler: ds.SOPClassHandlerId, report: !!ds.isImagingMeasurementReport,
    rehydratable: !!ds.isRehydratable, ct: ct.displaySetInstanceUID,
    shown: s.viewportGridService.getDisplaySetsUIDsForViewport(vpId),
    sr: ds.displaySetInstanceUID,
    measurements: (ds.measurements || []).map(m => ({
      id: m.TrackingIdentifier, uid: m.TrackingUniqueIdentifier, loaded: !!m.loaded, on: m.displaySetInstanceUID || null,
      labels: m.labels.map(l => `${l.label}: ${l.value}`),
      coords: m.coords.map(c => ({type: c.ValueType, graphic: c.GraphicType, frame: c.ReferencedFrameOfReferenceSequence,
                                  data: Array.from(c.GraphicData)}))})),
    annotations: window.cornerstoneTools.annotation.state.getAllAnnotations()
      .filter(a => a.metadata.toolName === 'DICOMSRDisplay')
      .map(a => ({uid: a.annotationUID, on: a.metadata.displaySetInstanceUID, points: a.data.handles.points})),
    panel: s.measurementService.getMeasurements().length,
  };
}"""


# OHIF's own load of an SR display set (what its SR viewport awaits): 'loaded', or the error it failed with.
_RELOAD = """uid => window.services.displaySetService.getDisplaySetsForSeries(uid)[0].load()
  .then(() => 'loaded', e => String(e))"""


def _at(series: Sequence[Dataset], z: float, y: float, x: float) -> np.ndarray:
    """Where voxel (z, y, x) is in patient space (LPS mm), from the CT's DICOM attributes alone."""
    first, second = (np.array([float(v) for v in ds.ImagePositionPatient]) for ds in series[:2])
    orientation = np.array([float(v) for v in series[0].ImageOrientationPatient])
    row_spacing, column_spacing = (float(v) for v in series[0].PixelSpacing)
    return first + z * (second - first) + x * column_spacing * orientation[:3] + y * row_spacing * orientation[3:]


def _stored_report(viewer_page: ViewerPage, platform: Platform, outputs: Sequence) -> Dataset:  # noqa: F811
    """The executor's SR of `outputs` over the open CT, stored through the gateway."""
    series = [parse_part10(to_bytes(ds)) for ds in viewer_page.study]  # as the executor reads them back
    sr = report(series, LABELS, outputs, volume=volume_from_datasets(series), algorithm=MODEL)
    response = stow(platform.client, [sr])
    assert response.status_code == 200, response.text
    return sr


def _show_loaded(viewer_page: ViewerPage, sr: Dataset, timeout: float = 60) -> dict[str, Any]:
    """Run the page's "show this result" on the SR and wait until OHIF has read it; its state then."""
    viewer_page.page.evaluate("uid => window.__mccViewer.showResult(uid)", str(sr.SeriesInstanceUID))
    uids = [str(sr.SeriesInstanceUID), str(viewer_page.study[0].SeriesInstanceUID)]
    deadline = time.monotonic() + timeout
    while True:
        state = viewer_page.frame.evaluate(_SR_STATE, uids)
        if (state and state["isLoaded"] and state["measurements"]) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    errors = [line for line in viewer_page.console if line.startswith("error")][-5:]
    assert state and state["isLoaded"], f"OHIF did not load the SR: {state}; console errors: {errors}"
    return state


def _wait_for_console(viewer_page: ViewerPage, text: str, since: int, timeout: float = 30) -> list[str]:
    """The page's console lines since line `since` that contain `text`, once there is one (or at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in viewer_page.console[since:] if text in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


@pytest.fixture(scope="module")
def viewer_page(browser: Browser, platform: Platform) -> Iterator[ViewerPage]:  # noqa: F811
    """A 32-slice CT stored through the gateway, open on the portal's viewer page with its image on screen."""
    series = ct_series(Patient(name="VIEWER^SR", patient_id="MCC-VIEW-SR"), slices=SLICES, rows=SIZE, columns=SIZE)
    assert stow(platform.client, series).status_code == 200
    context = new_context(browser, platform.url, viewport={"width": 1280, "height": 900})
    context.add_cookies(platform.cookies)
    page = context.new_page()
    quiet_onboarding(page)  # init scripts run in the framed viewer too
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        frame = _open_viewer_page(page, str(series[0].StudyInstanceUID), console)
        yield ViewerPage(page, frame, series, console)
    finally:
        context.close()


def test_ohif_stops_reading_a_report_at_a_score(viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    """A score is a TID 1501 group without coordinates; OHIF 3.13's loader reads `coords[0].ReferencedSOPSequence` of
    every unplaced measurement, so it throws on the first score it meets (it walks them last to first)."""
    sr = _stored_report(viewer_page, platform, (SCORES, *FINDINGS))  # scores first, as the model returned them
    state = _show_loaded(viewer_page, sr)
    measurements = {m["id"]: m for m in state["measurements"]}
    assert list(measurements) == ["Nodule score", "Carina score", "Nodule box 1", "Carina point 1"]
    assert measurements["Nodule score"]["labels"] == ["Probability: 0.88 1"]  # read, but never placed
    assert [m["loaded"] for m in measurements.values()] == [False, False, True, True]
    # OHIF's SR viewport shows the image of the report's first measurement: a score has none, so a viewport that
    # showed no SR before (this test runs first) shows no image at all.
    assert state["shown"] == [state["sr"]]
    assert not viewer_page.frame.evaluate(_IMAGE_SHOWN)
    # Why: OHIF's own load of the display set (what its SR viewport awaits) fails on the scores.
    failure = viewer_page.frame.evaluate(_RELOAD, str(sr.SeriesInstanceUID))
    assert "reading 'ReferencedSOPSequence'" in failure, failure


def test_ohif_reads_each_box_and_point_of_the_report_onto_the_ct_at_its_patient_coordinates(
        viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    """The report of a detection/localisation model (boxes and points, no scores), as OHIF reads it."""
    series, frame = viewer_page.study, viewer_page.frame
    sr = _stored_report(viewer_page, platform, FINDINGS)
    started = time.monotonic()
    state = _show_loaded(viewer_page, sr)
    logger.info("showResult → OHIF's SR display set loaded, measurements placed: %.2f s", time.monotonic() - started)

    # OHIF's 3D SR handler took it as a TID 1500 imaging measurement report, and the page put it on screen.
    assert state["handler"].endswith(".sopClassHandlerModule.dicom-sr-3d") and state["report"]
    assert state["shown"] == [state["sr"]]
    # One measurement per finding, named as our tracking identifiers, our values as its labels.
    measurements = {m["id"]: m for m in state["measurements"]}
    assert list(measurements) == ["Nodule box 1", "Carina point 1"]
    assert measurements["Nodule box 1"]["labels"] == ["Probability: 0.75 1", "Depth: 17.50 mm"]  # 7 slices × 2.5 mm
    assert measurements["Carina point 1"]["labels"] == ["Probability: 0.50 1"]
    # Each SCOORD3D was matched to the CT by its frame of reference and placed on the CT's display set ...
    frame_of_reference = str(series[0].FrameOfReferenceUID)
    for measurement in measurements.values():
        assert measurement["loaded"] and measurement["on"] == state["ct"], measurement
        (coords,) = measurement["coords"]
        assert (coords["type"], coords["frame"]) == ("SCOORD3D", frame_of_reference)
    # ... at the CT's own coordinates: the box's outline around its voxels' outer edges on its centre slice (15),
    # the point where the model put it.
    outline = [_at(series, 15, y, x) for y, x in ((39.5, 49.5), (39.5, 90.5), (70.5, 90.5), (70.5, 49.5), (39.5, 49.5))]
    box, point = measurements["Nodule box 1"]["coords"][0], measurements["Carina point 1"]["coords"][0]
    assert box["graphic"] == "POLYLINE" and point["graphic"] == "POINT"
    np.testing.assert_allclose(np.reshape(box["data"], (-1, 3)), outline, atol=1e-3)
    np.testing.assert_allclose(np.reshape(point["data"], (-1, 3)), [_at(series, 16, 64, 64)], atol=1e-3)
    # The same points became cornerstone annotations of OHIF's SR display tool, on the CT.
    annotations = {a["uid"]: a for a in state["annotations"]}
    for measurement in measurements.values():
        annotation = annotations[measurement["uid"]]
        assert annotation["on"] == state["ct"]
        np.testing.assert_allclose(annotation["points"], np.reshape(measurement["coords"][0]["data"], (-1, 3)))
    # The SR viewport shows the CT the report is about: OHIF's SR viewport shows a report through its images.
    frame.wait_for_function(_IMAGE_SHOWN, timeout=60_000)
    # Boxes and points match OHIF's RectangleROI and Probe adapters ("DCM:111030" POLYLINE of 5, POINT of 1), so OHIF
    # offers to track them; nothing is in the measurements panel until someone answers that question.
    assert state["rehydratable"] and state["panel"] == 0
    frame.locator('[data-cy="yes-hydrate-btn"]').wait_for(state="visible", timeout=30_000)


def test_ohif_cannot_hydrate_a_finding_with_measurements_into_its_panel(
        viewer_page: ViewerPage, platform: Platform) -> None:  # noqa: F811
    """OHIF's adapters look for the SCOORD inside a group's first NUM (TID 300 "INFERRED FROM"); ours is the group's
    own region (TID 1410), so "Yes, track" finds no coordinates for a box (probability, depth) or scored point."""
    sr = _stored_report(viewer_page, platform, FINDINGS)
    _show_loaded(viewer_page, sr)
    since = len(viewer_page.console)
    yes = viewer_page.frame.locator('[data-cy="yes-hydrate-btn"]')
    yes.wait_for(state="visible", timeout=30_000)
    yes.click()
    refused = _wait_for_console(viewer_page, "No spatial coordinates group found", since)
    _wait_for_console(viewer_page, "Didn't find any tracked measurements", since)
    assert len(refused) >= 2, viewer_page.console[since:][-10:]  # the box and the point
    assert viewer_page.frame.evaluate("() => window.services.measurementService.getMeasurements().length") == 0
