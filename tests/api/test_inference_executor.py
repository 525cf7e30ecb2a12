"""The executor with every real part: a job queued through the API is claimed, its series read from the archive,
the model's sandboxed service called, the output stored in the study as a DICOM SEG through the normal ingest,
and the SEG read back through the gateway with dicomweb-client and highdicom. A job run twice (its executor died
after storing) leaves exactly one result; a model that fails says why."""

from __future__ import annotations

import importlib.util
import io
import uuid

import highdicom as hd
import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series
from sqlalchemy import update

from functions.common.ai_models import jobs, services
from functions.common.ai_models.jobs import InferenceJob
from functions.common.dicom.volumes import volume_from_datasets
from functions.common.platform import db
from functions.inference.executor import Executor, _Beat
from tests.support.dicomweb import stow
from tests.support.models import TEMPLATES, create_model, publish, template_files, wait_version

pytestmark = pytest.mark.usefixtures("model_host", "empty_job_queue")

FAILS_ON_REAL_SERIES = '''
from model_builder import Application, LabelVolume


class Picky(Application):
    def run(self, volume):
        if volume.shape[0] > 24:  # the smoke run's series has 24 slices; the test's has 32
            raise RuntimeError("this model only takes up to 24 slices")
        return LabelVolume((volume.array > 0).astype("uint8"))
'''


SLOW_ON_REAL_SERIES = '''
import time

from model_builder import Application, LabelVolume


class Slow(Application):
    def run(self, volume):
        if volume.shape[0] > 24:  # quick on the smoke run's 24 slices, far too slow on the test's 32
            time.sleep(300)
        return LabelVolume((volume.array > 0).astype("uint8"))
'''

MISSHAPEN_ON_REAL_SERIES = '''
import numpy as np

from model_builder import Application, LabelVolume


class Misshapen(Application):
    def run(self, volume):
        labels = (volume.array > 0).astype("uint8")
        if volume.shape[0] > 24:  # right on the smoke run's series, half the slices on the test's
            labels = labels[::2]
        return LabelVolume(np.ascontiguousarray(labels))
'''

TELLS_WHAT_IT_GOT = '''
from model_builder import Application, Code, InferTask, InferType, Label, LabelVolume


class Curious(InferTask):
    type = InferType.PROCESSING
    labels = (Label("Body", Code("38266002", "SCT", "Entire body")),)
    modality = "CT"
    inputs = ("PatientSex", "StudyDate")

    def infer(self, data):
        return data > 0

    def post(self, result, volume):
        if volume.shape[0] > 24:  # on the test's series: say what arrived with the volume
            raise RuntimeError(f"attributes received: {sorted(volume.attributes.items())}")
        return LabelVolume(result.astype("uint8"))


class Told(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        self.task = Curious()

    def run(self, volume):
        return self.task(volume)
'''

FINDS_A_NODULE = '''
from model_builder import Application, Box, Boxes


class Finder(Application):
    def run(self, volume):
        z, y, x = volume.shape
        return Boxes((Box(label=1, start=(z // 4, y // 4, x // 4), end=(z // 2, y // 2, x // 2), score=0.9),))
'''

SCORES_IT = '''
from model_builder import Application, Scores


class Scorer(Application):
    def run(self, volume):
        return Scores({"Body": 0.8})
'''

CODE = {"Finder": FINDS_A_NODULE, "Scorer": SCORES_IT, "Told": TELLS_WHAT_IT_GOT, "Picky": FAILS_ON_REAL_SERIES, "Slow": SLOW_ON_REAL_SERIES, "Misshapen": MISSHAPEN_ON_REAL_SERIES}


TASKS = {"Finder": {"task": "detection"}, "Scorer": {"task": "classification"}}


@pytest.fixture(scope="module")
def cast(factory):
    owner, doctor = factory.create("researcher"), factory.create("health_professional")
    models = {}
    for name, files in [("Body mask", template_files())] + [
            (name, template_files(entry_point=f"app:{name}", name=name, **TASKS.get(name, {}))) for name in CODE]:
        if name in CODE:
            files["app.py"] = CODE[name]
        model = create_model(owner.client, name=name)
        assert publish(owner.client, model["id"], files).status_code == 202
        assert wait_version(owner.client, model["id"], 1)["status"] == "ready"
        assert owner.client.put(f"/api/shares/models/{model['id']}/publication", json={"version": 1}).status_code == 200
        models[name] = model["id"]
    series = ct_series(Patient(name="AI^EXEC", patient_id=f"AI-{uuid.uuid4().hex[:8]}"), slices=32, rows=64,
                       columns=64)
    assert stow(doctor.client, series).status_code == 200
    return {"owner": owner, "doctor": doctor, "models": models, "series": series,
            "study": str(series[0].StudyInstanceUID),
            "series_uid": str(series[0].SeriesInstanceUID)}


def _queue(cast, model: str) -> str:
    r = cast["doctor"].client.post("/api/inference/jobs", json={
        "model_id": cast["models"][model], "study_uid": cast["study"], "series_uid": cast["series_uid"]})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _job(cast, job_id: str) -> dict:
    return cast["doctor"].client.get(f"/api/inference/jobs/{job_id}").json()


def _seg_instances(cast) -> list[dict]:
    r = cast["doctor"].client.get(f"/dicom-web/studies/{cast['study']}/series", params={"Modality": "SEG"})
    return r.json() if r.status_code == 200 else []


def test_a_job_runs_end_to_end_and_its_seg_reads_back_through_the_gateway(cast):
    job_id = _queue(cast, "Body mask")
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "done" and job["progress"] == 1.0, job
    [stored] = job["result"]["instances"]
    assert stored["modality"] == "SEG" and job["result"]["kind"] == "seg"
    assert job["result"]["summary"]["segments"][0]["voxels"] > 0
    timings = job["result"]["timings"]  # where the job's time went, for operators and the bench
    assert set(timings) == {"queue_wait", "dispatch", "read", "model", "build", "store"}, timings
    assert all(seconds >= 0 for seconds in timings.values()) and timings["model"] > 0 and timings["read"] > 0
    r = cast["doctor"].client.get(f"/dicom-web/studies/{cast['study']}/series/{stored['series_uid']}/instances/"
                                  f"{stored['sop_uid']}", headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert r.status_code == 200, r.text[:300]
    body = r.content
    start = body.index(b"DICM") - 128
    seg = hd.seg.segread(io.BytesIO(body[start:]))
    assert seg.PatientName == cast["series"][0].PatientName  # the study's real identity, restored for the reader
    # the SEG holds exactly what the model computes in-process on the same series
    volume = volume_from_datasets(cast["series"])
    spec = importlib.util.spec_from_file_location("body_mask_app", TEMPLATES / "processing_classical" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.BodyMaskApplication(TEMPLATES / "processing_classical").run(volume)
    order = sorted(cast["series"], key=lambda ds: float(ds.ImagePositionPatient[2]))  # axial: the volume's order
    pixels = seg.get_pixels_by_source_instance([str(ds.SOPInstanceUID) for ds in order], combine_segments=True)
    assert np.array_equal(np.asarray(pixels), expected.array)


def _seg_of(cast, stored: dict) -> hd.seg.Segmentation:
    r = cast["doctor"].client.get(f"/dicom-web/studies/{cast['study']}/series/{stored['series_uid']}/instances/"
                                  f"{stored['sop_uid']}", headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert r.status_code == 200, r.text[:300]
    return hd.seg.segread(io.BytesIO(r.content[r.content.index(b"DICM") - 128:]))


def test_results_of_two_versions_stand_side_by_side_each_naming_its_version(cast):
    owner, model = cast["owner"], cast["models"]["Body mask"]
    first = _job(cast, _queue(cast, "Body mask"))
    assert Executor("executor-test").run_once()
    files = template_files()
    files["README.md"] = "Version 2: the same mask, a new bundle."
    assert publish(owner.client, model, files).status_code == 202
    assert wait_version(owner.client, model, 2)["status"] == "ready"
    assert owner.client.put(f"/api/shares/models/{model}/publication", json={"version": 2}).status_code == 200
    # the published version is served at once (the active one, v1, stays for the owner)
    names = {s.name for s in services.deployer().services()}
    assert {services.service_name(uuid.UUID(model), n) for n in (1, 2)} <= names, names
    second = _job(cast, _queue(cast, "Body mask"))
    assert Executor("executor-test").run_once()
    first, second = _job(cast, first["id"]), _job(cast, second["id"])
    assert (first["version"], second["version"]) == (1, 2) and first["digest"] != second["digest"]
    assert first["series_uid"] == second["series_uid"] == cast["series_uid"]
    series = {s["0020000E"]["Value"][0] for s in _seg_instances(cast)}
    for job in (first, second):
        stored = job["result"]["instances"][0]
        assert stored["series_uid"] in series
        [algorithm] = _seg_of(cast, stored).SegmentSequence[0].SegmentationAlgorithmIdentificationSequence
        assert algorithm.AlgorithmVersion == str(job["version"])
        assert algorithm.AlgorithmParameters == f"bundle sha256={job['digest']}"


def test_a_service_the_model_host_lost_is_deployed_again_by_the_next_job(cast):
    name = services.service_name(uuid.UUID(cast["models"]["Picky"]), 1)
    services.deployer().undeploy(name)  # as after a restart of the model host, which keeps nothing
    assert name not in {s.name for s in services.deployer().services()}
    job_id = _queue(cast, "Picky")
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "failed" and "only takes up to 24 slices" in job["error"], job  # the model itself ran


def test_a_job_run_again_after_its_executor_died_stores_one_result(cast):
    job_id = _queue(cast, "Body mask")
    executor = Executor("executor-dies")
    with db.session_scope() as session:
        claimed = jobs.claim(session, "executor-dies", lease_seconds=60)
        assert str(claimed.id) == job_id
    executor._execute(uuid.UUID(job_id), _Beat())
    with db.session_scope() as session:  # it stored the SEG, then died before marking the job done
        session.execute(update(InferenceJob).where(InferenceJob.id == uuid.UUID(job_id))
                        .values(lease_until=InferenceJob.created_at))
    assert Executor("executor-rescues").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "done"
    sop = job["result"]["instances"][0]["sop_uid"]
    matching = [s for s in _seg_instances(cast) if s["0020000E"]["Value"][0] == job["result"]["instances"][0]["series_uid"]]
    assert len(matching) == 1 and matching[0]["00201209"]["Value"][0] == 1, (sop, matching)


def test_a_model_that_fails_on_the_series_fails_the_job_with_its_reason(cast):
    job_id = _queue(cast, "Picky")
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "failed" and "only takes up to 24 slices" in job["error"], job
    assert job["result"] is None


def _run_in_thread(executor: Executor):
    import threading

    thread = threading.Thread(target=executor.run_once, name=executor.name)
    thread.start()
    return thread


def _wait_for(cast, job_id: str, statuses: set[str], timeout: float = 120.0, stage: str | None = None) -> dict:
    """The job once its status is one of `statuses` (and its stage `stage`, if given)."""
    import time

    deadline = time.monotonic() + timeout
    while (job := _job(cast, job_id))["status"] not in statuses or stage not in (None, job["stage"]):
        assert time.monotonic() < deadline and job["status"] in statuses | {"queued", "running"}, job
        time.sleep(0.1)
    return job


def test_a_job_past_its_time_limit_fails_and_its_model_is_stopped(cast):
    job_id = _queue(cast, "Slow")
    with db.session_scope() as session:  # the platform's limit is minutes; this job gets 10 s
        session.execute(update(InferenceJob).where(InferenceJob.id == uuid.UUID(job_id)).values(timeout_seconds=10))
    thread = _run_in_thread(Executor("executor-timeout"))
    thread.join(120)
    assert not thread.is_alive()
    job = _job(cast, job_id)
    assert job["status"] == "failed", job
    assert "longer than" in job["error"] and "stopped" in job["error"], job["error"]
    assert job["result"] is None
    # the sandboxed instance was killed at the job's limit, not left sleeping for its 300 s
    service = services.deployer().status(services.service_name(uuid.UUID(cast["models"]["Slow"]), 1))
    assert service.busy == 0 and service.last_failure is not None, service
    assert service.last_failure.kind.value == "timeout", service


def test_an_output_that_does_not_fit_the_series_is_refused_with_the_reason(cast):
    job_id = _queue(cast, "Misshapen")
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "failed", job
    assert "(16, 64, 64)" in job["error"] and "(32, 64, 64)" in job["error"], job["error"]
    assert job["result"] is None
    assert not [s for s in _seg_instances(cast) if "Misshapen" in str(s)]


def test_a_running_job_cancelled_ends_at_the_next_heartbeat_while_its_model_still_runs(cast):
    job_id = _queue(cast, "Slow")
    with db.session_scope() as session:
        session.execute(update(InferenceJob).where(InferenceJob.id == uuid.UUID(job_id)).values(timeout_seconds=30))
    thread = _run_in_thread(Executor("executor-cancel", lease_seconds=1.5))  # heartbeats every 0.5 s
    _wait_for(cast, job_id, {"running"}, stage="model")  # the series read, the sandboxed model called
    r = cast["doctor"].client.post(f"/api/inference/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "running"  # asked; the executor ends it
    job = _wait_for(cast, job_id, {"cancelled", "failed", "done"}, timeout=20)
    assert job["status"] == "cancelled" and job["result"] is None, job
    assert thread.is_alive()  # the user was not kept waiting for the model's answer
    thread.join(120)
    assert _job(cast, job_id)["status"] == "cancelled"  # the answer (a timeout here) changed nothing


def test_a_model_gets_the_attributes_its_task_declared_from_the_archive_and_no_others(cast):
    job_id = _queue(cast, "Told")
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "failed", job
    original = cast["series"][0]
    expected = [("PatientSex", str(original.PatientSex)), ("StudyDate", str(original.StudyDate))]
    assert f"attributes received: {expected}" in job["error"], job["error"]


def test_a_job_cancelled_between_its_steps_stores_nothing(cast):
    job_id = _queue(cast, "Body mask")
    with db.session_scope() as session:
        assert str(jobs.claim(session, "executor-steps", lease_seconds=60).id) == job_id
    cast["doctor"].client.post(f"/api/inference/jobs/{job_id}/cancel")  # before the executor's first step
    before = len(_seg_instances(cast))
    Executor("executor-steps")._run(uuid.UUID(job_id), _Beat())
    job = _job(cast, job_id)
    assert job["status"] == "cancelled" and job["result"] is None and job["cancel_requested"], job
    assert len(_seg_instances(cast)) == before


def _sr_of(cast, instance: dict) -> hd.sr.Comprehensive3DSR:
    r = cast["doctor"].client.get(f"/dicom-web/studies/{cast['study']}/series/{instance['series_uid']}/instances/"
                                  f"{instance['sop_uid']}", headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert r.status_code == 200, r.text[:300]
    return hd.sr.srread(io.BytesIO(r.content[r.content.index(b"DICM") - 128:]))


@pytest.mark.parametrize(("model", "content", "key"), [("Finder", "findings", "boxes"), ("Scorer", "scores", "scores")])
def test_boxes_and_scores_are_stored_as_reports_read_back_with_highdicom(cast, model, content, key):
    job_id = _queue(cast, model)
    assert Executor("executor-test").run_once()
    job = _job(cast, job_id)
    assert job["status"] == "done" and job["result"]["kind"] == "sr", job
    [instance] = job["result"]["instances"]
    assert (instance["content"], instance["modality"]) == (content, "SR")
    assert key in job["result"]["summary"], job["result"]["summary"]
    sr = _sr_of(cast, instance)
    assert sr.PatientName == cast["series"][0].PatientName  # the study's real identity, restored for the reader
    regions = sr.content.get_planar_roi_measurement_groups()
    assert len(regions) == (1 if content == "findings" else 0)  # a score is never a region OHIF would try to draw
    if content == "findings":  # drawn on one slice of the series the model ran on
        reference = regions[0].roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        assert reference in {ds.SOPInstanceUID for ds in cast["series"]}


def test_a_cancelled_job_is_not_run(cast):
    job_id = _queue(cast, "Body mask")
    assert cast["doctor"].client.post(f"/api/inference/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    assert not Executor("executor-test").run_once()
    assert _job(cast, job_id)["status"] == "cancelled"


def test_the_seg_bytes_are_valid_dicom(cast):
    done = [j for j in cast["doctor"].client.get(f"/api/inference/jobs?study={cast['study']}").json()["items"]
            if j["status"] == "done" and j["result"]["kind"] == "seg"]
    assert done
    [stored] = done[0]["result"]["instances"]
    r = cast["doctor"].client.get(f"/dicom-web/studies/{cast['study']}/series/{stored['series_uid']}/metadata")
    assert r.status_code == 200 and r.json()[0]["00080060"]["Value"] == ["SEG"]
    assert pydicom.uid.UID(stored["sop_uid"]).is_valid


def test_a_serving_executor_wakes_for_a_queued_job(cast):
    import threading
    import time

    stop = threading.Event()
    thread = threading.Thread(target=Executor("executor-serving").serve, args=(stop,), kwargs={"idle_wait": 30.0})
    thread.start()
    try:
        job_id = _queue(cast, "Body mask")
        deadline = time.monotonic() + 120
        while _job(cast, job_id)["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, _job(cast, job_id)
            time.sleep(0.1)
        job = _job(cast, job_id)
        assert job["status"] == "done", job
        # woken by the notification, not by the 30 s idle wait
        from datetime import datetime
        queued, started = (datetime.fromisoformat(job[k]) for k in ("created_at", "started_at"))
        assert (started - queued).total_seconds() < 10
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    # its LISTEN connection (autocommit) never went back to the pool: every pooled one still runs transactions
    held = [db.engine().raw_connection() for _ in range(8)]
    try:
        assert not any(connection.dbapi_connection.autocommit for connection in held)
    finally:
        for connection in held:
            connection.close()
