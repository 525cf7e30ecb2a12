"""Issue 12's browser journey: a health professional runs the published sample models from the viewer's AI panel.

On the launched platform (`live_platform`: command 1's processes, its one `inference-executor`, the two sample
models published to health professionals), in headless Chromium. The tests run in file order on one open page, as
one visit to the viewer:

1. the panel lists the two published samples and not a model the professional may not `use`;
2. the U-Net runs from the panel, its progress shows, and the heart is drawn over the CT in the viewport's pixels,
   on a slice the SEG covers, with nothing to click;
3. a queued job is cancelled from the panel;
4. the classical bone model runs too, and both results are listed as done.

Who may not use a model: the demo researcher adds a model with a ready version and does not publish it. Its owner
may run it (it is listed for them, on a study of theirs), so its absence for the professional is the rule at work,
and publishing it lists it for the same professional on the same series. That needs no other account.

No race with the executor: a warm sample job ends in about a second, maybe before the panel's next listing, and a
queued job waits only while the executor is busy. So the platform's one executor process is paused (SIGSTOP, while
idle) around a click on Run: the panel shows the U-Net job queued before it runs, and the job to cancel is still
queued at the Cancel click, however slow the machine. The executor is continued after each and runs the bone job
last, so the cancelled job is seen never to start.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series
from mcc_local.procs import ProcessGroup
from PIL import Image
from playwright.sync_api import Browser, Frame, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError
from pydicom import Dataset

from tests.e2e.conftest import LivePlatform
from tests.e2e.ohif import quiet_onboarding
from tests.e2e.portal import new_context, sign_in
from tests.e2e.viewer_page import canvas_rgb, open_viewer_page
from tests.support.api_client import ApiClient
from tests.support.dicomweb import DICOM_PARTS, parts_of, stow
from tests.support.models import publish, wait_version

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
BONE_SAMPLE = ROOT / "model_builder" / "samples" / "ct_bone"
UNET = "Heart CT segmentation (synthetic phantom sample)"
BONE = "CT bone segmentation"
SLICES, SIZE = 48, 128  # the U-Net segments a 32 × 128 × 128 series at a Dice of 0.93: seconds per job
JOB_SECONDS = 300  # a job's deadline: the U-Net's service may start cold on a busy 2-core machine
FINAL = {"done", "failed", "cancelled"}
# OHIF opens a SEG on its first segmented slice: the top of the heart, a few voxels (about 1,300 screen pixels seen).
HEART_PIXELS = 200
_CURRENT_IMAGE = """() => {
  const s = window.services;
  return s.cornerstoneViewportService.getCornerstoneViewport(s.viewportGridService.getActiveViewportId())
    .getCurrentImageId();
}"""
_ITEM_STATE = """li => [li.dataset.status, li.querySelector('[data-testid="job-status"]').textContent,
  !!li.querySelector('progress')]"""
_SEG_DRAWN = """uid => {
  const s = window.services;
  const [ds] = s.displaySetService.getDisplaySetsForSeries(uid) || [];
  return !!ds && s.segmentationService.getSegmentationRepresentations(s.viewportGridService.getActiveViewportId(),
    {segmentationId: ds.displaySetInstanceUID}).length > 0;
}"""


@dataclass
class Journey:
    """One professional's visit: the page with OHIF's frame, their client, the CT, and what the tests ran."""

    page: Page
    frame: Frame
    doctor: ApiClient
    researcher: ApiClient
    series: list[Dataset]
    hidden_model: dict
    console: list[str]
    jobs: dict[str, str] = field(default_factory=dict)  # what a job was for → its id

    @property
    def study_uid(self) -> str:
        return str(self.series[0].StudyInstanceUID)

    @property
    def series_uid(self) -> str:
        return str(self.series[0].SeriesInstanceUID)

    def panel(self) -> Locator:
        return self.page.get_by_role("complementary", name="AI")

    def job_item(self, job_id: str) -> Locator:
        """A job's item in the panel's Jobs list (each item carries its job's id)."""
        item = self.panel().get_by_role("list", name="Jobs").locator(f'li[data-job-id="{job_id}"]')
        expect(item).to_have_count(1, timeout=30_000)
        return item

    def job(self, job_id: str) -> dict:
        r = self.doctor.get(f"/api/inference/jobs/{job_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, model_name: str) -> str:
        """Click the panel's Run button of a model; the id of the job it queued."""
        with self.page.expect_response(lambda r: r.request.method == "POST"
                                       and r.url.endswith("/api/inference/jobs")) as started:
            self.panel().get_by_role("button", name=f"Run {model_name}", exact=True).click()
        assert started.value.status == 202, started.value.text()
        return started.value.json()["id"]


def _hidden_model(researcher: ApiClient) -> dict:
    """A model of the demo researcher with version 1 validating (the bone sample's files under another name)."""
    name = f"Unpublished bone {uuid.uuid4().hex[:8]}"
    r = researcher.post("/api/models", json={"name": name, "description": "Not for health professionals yet.",
                                             "architecture": "Threshold", "task": "segmentation", "modality": "CT"})
    assert r.status_code == 201, r.text
    model = r.json()
    files = {p.name: p.read_text() for p in sorted(BONE_SAMPLE.iterdir()) if p.suffix in (".py", ".json")}
    files["manifest.json"] = files["manifest.json"].replace(f'"name": "{BONE}"', f'"name": "{name}"')
    r = publish(researcher, model["id"], files, notes="Kept to its owner.")
    assert r.status_code == 202, r.text
    return model


@pytest.fixture(scope="module")
def journey(browser: Browser, live_platform: LivePlatform) -> Iterator[Journey]:
    """The demo professional's fresh 48-slice CT, open on the portal's viewer page with OHIF's image on screen."""
    doctor, researcher = live_platform.signed_in("health_professional"), live_platform.signed_in("researcher")
    hidden = _hidden_model(researcher)  # validated in the sandbox while the CT is stored and the browser signs in
    series = ct_series(Patient(name="AI^JOURNEY", patient_id=f"MCC-AI-{uuid.uuid4().hex[:8]}"), slices=SLICES,
                       rows=SIZE, columns=SIZE)
    r = stow(doctor, series)
    assert r.status_code == 200, r.text
    context = new_context(browser, live_platform.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    quiet_onboarding(page)  # init scripts run in the framed viewer too
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    try:
        sign_in(page, *live_platform.logins["health_professional"])
        version = wait_version(researcher, hidden["id"], 1)
        assert version["status"] == "ready", version.get("problems")
        frame = open_viewer_page(page, str(series[0].StudyInstanceUID), console)
        yield Journey(page, frame, doctor, researcher, series, hidden, console)
    finally:
        context.close()
        r = researcher.delete(f"/api/models/{hidden['id']}")
        assert r.status_code == 204, r.text


def _runnable(client: ApiClient, study_uid: str, series_uid: str) -> dict[str, str]:
    r = client.get(f"/api/inference/models?study={study_uid}&series={series_uid}")
    assert r.status_code == 200, r.text
    return {m["model_id"]: m["name"] for m in r.json()["items"]}


def _seg_sources(client: ApiClient, study_uid: str, seg: dict) -> set[str]:
    """The CT instances a stored SEG has frames for: the slices where the model found something."""
    r = client.get(f"/dicom-web/studies/{study_uid}/series/{seg['series_uid']}/instances/{seg['sop_uid']}",
                   headers={"Accept": DICOM_PARTS})
    assert r.status_code == 200, r.text
    ds = pydicom.dcmread(io.BytesIO(parts_of(r)[0]))
    return {str(src.ReferencedSOPInstanceUID) for frame in ds.PerFrameFunctionalGroupsSequence
            for derivation in frame.DerivationImageSequence for src in derivation.SourceImageSequence}


def _label_colour(rgb: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Where the viewport shows a label's colour (filled at OHIF's opacity over grey, or its opaque outline): the
    greyscale CT has none, so the pixel's tint (its difference from its own grey) must point the colour's way."""
    tint = rgb - rgb.mean(axis=2, keepdims=True)
    want = np.asarray(colour, dtype=np.float64) - np.mean(colour)
    want /= np.linalg.norm(want)
    along = tint @ want
    across = np.linalg.norm(tint - along[..., None] * want, axis=2)
    return (along > 25) & (across < along / 2)


def _viewport_rgb(frame: Frame, timeout: float = 30) -> np.ndarray:
    """The viewport's pixels; OHIF replaces its canvas when it puts a series in the viewport, so a screenshot of
    the one just found can fail ("not attached"): the new one is taken then."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return canvas_rgb(frame)
        except PlaywrightError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _follow_job(journey: Journey, job_id: str, before: tuple[str, ...] = (), timeout: float = JOB_SECONDS) -> list[str]:
    """What the job's item showed, in order (its status text, "+progress" while it showed a progress bar), after
    `before`, until the job ended; the panel asks every 2 s, so a job of seconds shows one or two states."""
    item = journey.job_item(job_id)
    seen = list(before)
    deadline = time.monotonic() + timeout
    while True:
        status, text, bar = item.evaluate(_ITEM_STATE)
        text += " +progress" if bar else ""
        if not seen or seen[-1] != text:
            seen.append(text)
        if status in FINAL:
            return seen
        assert time.monotonic() < deadline, f"the job did not end in {timeout} s: {seen}, {journey.job(job_id)}"
        time.sleep(0.05)


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


@contextmanager
def _executor_paused(platform: LivePlatform) -> Iterator[None]:
    """The platform's one executor stopped (SIGSTOP) while it waits for work, continued when the block ends."""
    record = ProcessGroup(platform.state / "run").record("inference-executor")
    assert record is not None, "the launcher recorded no inference-executor"
    stat = Path(f"/proc/{record.pid}/stat")
    os.kill(record.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 30
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "T":
            assert time.monotonic() < deadline, "the executor did not stop"
            time.sleep(0.05)
        yield
    finally:
        os.kill(record.pid, signal.SIGCONT)


def test_the_panel_lists_the_published_models_and_not_one_the_professional_may_not_use(journey: Journey):
    models = journey.panel().get_by_role("list", name="Models")
    expect(models.get_by_role("listitem")).to_have_count(2, timeout=60_000)
    assert sorted(models.get_by_role("listitem").evaluate_all("items => items.map(i => i.ariaLabel)")) == sorted(
        [BONE, UNET])
    expect(journey.panel().get_by_role("button", name=f"Run {journey.hidden_model['name']}")).to_have_count(0)
    hidden = journey.hidden_model["id"]
    assert sorted(_runnable(journey.doctor, journey.study_uid, journey.series_uid).values()) == sorted([BONE, UNET])

    # Its owner may run it: on a study of their own, it is listed for them.
    (own,) = ct_series(Patient(name="AI^OWNER", patient_id=f"MCC-AI-{uuid.uuid4().hex[:8]}"), slices=1, rows=32,
                       columns=32)
    assert stow(journey.researcher, [own]).status_code == 200
    assert hidden in _runnable(journey.researcher, str(own.StudyInstanceUID), str(own.SeriesInstanceUID))
    # Published, the same model is runnable by the same professional on the same series: only the right was missing.
    r = journey.researcher.put(f"/api/shares/models/{hidden}/publication", json={"version": 1})
    assert r.status_code == 200, r.text
    assert hidden in _runnable(journey.doctor, journey.study_uid, journey.series_uid)
    r = journey.researcher.delete(f"/api/shares/models/{hidden}/publication")
    assert r.status_code == 204, r.text
    assert hidden not in _runnable(journey.doctor, journey.study_uid, journey.series_uid)
    r = journey.doctor.post("/api/inference/jobs", json={"model_id": hidden, "study_uid": journey.study_uid,
                                                         "series_uid": journey.series_uid})
    assert r.status_code == 404, r.text


def test_the_unet_runs_from_the_panel_and_its_heart_is_drawn_over_the_ct(journey: Journey,
                                                                         live_platform: LivePlatform, tmp_path: Path):
    page, frame = journey.page, journey.frame
    colour = (206, 110, 84)  # the sample's "Heart" label (its metadata's label_colours); checked below
    before = _viewport_rgb(frame)
    assert not _label_colour(before, colour).any(), "the heart's colour on the CT before the model ran"
    page.wait_for_function("uid => window.__mccViewer && window.__mccViewer.activeSeries() === uid",
                           arg=journey.series_uid, timeout=30_000)

    # The executor waits while the job is clicked: the panel shows it queued first, however fast it then runs.
    with _executor_paused(live_platform):
        job_id = journey.jobs["unet"] = journey.run(UNET)
        expect(journey.job_item(job_id).get_by_test_id("job-status")).to_have_text("Queued", timeout=30_000)
    resumed = time.monotonic()
    seen = _follow_job(journey, job_id, before=("Queued",))
    ended = time.monotonic()
    job = journey.job(job_id)
    logger.info("U-Net job: panel showed %s; %.1f s from the executor's resumption; timings %s", seen,
                ended - resumed, job["result"] and job["result"].get("timings"))
    assert job["status"] == "done", job
    assert seen[-1] == "Done", seen
    assert all(re.fullmatch(r"(Queued|Running: [a-z ]+ \+progress)", s) for s in seen[:-1]), seen
    running = _seconds(job["started_at"], job["finished_at"])
    if running > 6:  # longer than the panel's polls (2 s + the answer): it showed the job running, with its bar
        assert any(s.startswith("Running: ") for s in seen), (running, seen)

    (label,) = job["result"]["summary"]["labels"]
    assert (label["name"], tuple(label["colour"])) == ("Heart", colour)
    (segment,) = job["result"]["summary"]["segments"]
    assert segment["voxels"] > 0, job["result"]["summary"]
    findings = journey.job_item(job_id).get_by_role("list", name="Findings")  # the panel says what was found
    expect(findings).to_have_text(f"Heart: {segment['volume_ml']:.1f} mL ({segment['voxels']:,} voxels)")
    [seg] = [i for i in job["result"]["instances"] if i["modality"] == "SEG"]

    # The panel showed the result by itself: the heart's colour over the CT, on a slice the SEG has a frame for.
    deadline = time.monotonic() + 90
    while True:
        heart = _label_colour(rgb := _viewport_rgb(frame), colour)
        if heart.sum() >= HEART_PIXELS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    logger.info("U-Net result drawn %.1f s after the job ended", time.monotonic() - ended)
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "viewport.png")
    errors = [line for line in journey.console if line.startswith("error")][-5:]
    expect(journey.panel().get_by_text("The result could not be shown")).to_have_count(0)
    assert heart.sum() >= HEART_PIXELS, f"no heart colour over the image ({heart.sum()} pixels); console: {errors}"
    shown = re.search(r"/instances/([0-9.]+)/frames/", frame.evaluate(_CURRENT_IMAGE))
    assert shown and shown.group(1) in _seg_sources(journey.doctor, journey.study_uid, seg), shown
    # The colour is a blob in the chest, not a stray piece of OHIF's interface.
    points = np.argwhere(heart)
    centre = points.mean(axis=0) / np.array(heart.shape)
    assert np.all(np.abs(centre - 0.5) < 0.25), f"the heart's colour is not in the middle of the image: {centre}"
    expect(frame.get_by_text("Do you want to open this Segmentation?")).to_have_count(0)


def test_a_queued_job_is_cancelled_from_the_panel(journey: Journey, live_platform: LivePlatform):
    with _executor_paused(live_platform):
        job_id = journey.jobs["cancelled"] = journey.run(UNET)
        item = journey.job_item(job_id)
        expect(item.get_by_test_id("job-status")).to_have_text("Queued", timeout=30_000)
        item.get_by_role("button", name="Cancel").click()
        expect(item.get_by_test_id("job-status")).to_have_text("Cancelled", timeout=30_000)
        assert journey.job(job_id)["status"] == "cancelled"
    expect(item.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(item.get_by_role("button", name="Show result")).to_have_count(0)


def test_the_classical_model_runs_too_and_both_results_are_listed(journey: Journey):
    job_id = journey.jobs["bone"] = journey.run(BONE)
    seen = _follow_job(journey, job_id)
    job = journey.job(job_id)
    logger.info("bone job: panel showed %s; timings %s", seen, job["result"] and job["result"].get("timings"))
    assert job["status"] == "done", job
    # Shown by itself too, over the same CT: OHIF drew the bone SEG in the active viewport.
    [seg] = [i for i in job["result"]["instances"] if i["modality"] == "SEG"]
    journey.frame.wait_for_function(_SEG_DRAWN, arg=seg["series_uid"], timeout=60_000)

    jobs = journey.panel().get_by_role("list", name="Jobs")
    done = jobs.locator('li[data-status="done"]')
    assert sorted(done.evaluate_all("items => items.map(i => i.ariaLabel)")) == sorted([f"{BONE} v1", f"{UNET} v1"])
    for i in range(2):
        expect(done.nth(i).get_by_role("button", name="Show result")).to_be_visible()
    expect(jobs.locator('li[data-status="cancelled"]')).to_have_count(1)
    listed = {j["id"]: j for j in journey.doctor.get(f"/api/inference/jobs?study={journey.study_uid}").json()["items"]}
    assert {listed[journey.jobs[k]]["status"] for k in ("unet", "bone")} == {"done"}
    # The executor ran the bone job after it was continued, and never took the cancelled one.
    cancelled = listed[journey.jobs["cancelled"]]
    assert (cancelled["status"], cancelled["started_at"], cancelled["result"]) == ("cancelled", None, None)

