"""The executor: claims a job, reads its series from the archive, calls the model version's service, turns the
output into DICOM (SEG, Comprehensive 3D SR) and stores it in the study through the normal ingest path.

At least once, exactly one result: the result's UIDs are derived from the job id, so a job run again after its
executor died stores the same instances, which the ingest takes as a retry. While a job runs, a heartbeat thread
extends its lease, reports the stage, and notices a cancel.
"""

from __future__ import annotations

import io
import logging
import select
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom import Dataset
from sqlalchemy.orm import Session

from functions.common.access.policy import Action, may_store, study_for
from functions.common.accounts.tables import User
from functions.common.ai_models import jobs, services
from functions.common.ai_models.jobs import InferenceJob, JobStatus
from functions.common.ai_models.tables import AiModel, ModelVersion
from functions.common.ai_models.versions import declared_inputs, version_manifest
from functions.common.dicom import originals, results
from functions.common.dicom.ingest import Ingest
from functions.common.dicom.validation import check_instance, parse_part10
from functions.common.dicom.volumes import read_series
from functions.common.platform import db
from functions.common.platform.db import utcnow
from functions.common.platform.errors import ApiError
from functions.common.security import audit
from functions.common.security.tokens import Principal
from model_builder.deploy import TIMEOUT_HEADER, DeployError
from model_builder.labels import Label
from model_builder.outputs import Boxes, LabelVolume, Points, Scores
from model_builder.runtime.codec import decode_response, encode_request

log = logging.getLogger(__name__)
BEAT_SECONDS = 2.0  # a running job's lease renewed (and a cancel noticed) at least this often
RETRY_STATUSES = {502, 503}  # the service could not start or was busy: the job goes back to the queue


class JobFailed(Exception):
    """The job cannot succeed as asked: the model's own error, a timeout, a refused output."""


class Cancelled(Exception):
    """The user cancelled the job while it ran."""


class Retry(Exception):
    """A passing failure (the service busy or starting): the job is tried again."""


def result_uid(job_id: uuid.UUID, what: str) -> str:
    """A DICOM UID (2.25 + a UUID as an integer) that is the same every time this job stores `what`."""
    return f"2.25.{uuid.uuid5(job_id, what).int}"


@dataclass
class _Beat:
    """The heartbeat thread's shared state: what the job is doing, and whether it was cancelled."""

    stage: str = "starting"
    progress: float = 0.0
    cancelled: bool = False
    limit: float = 600.0  # the job's time limit, seconds from its claim
    deadline: float = field(default_factory=lambda: float("inf"))  # time.monotonic() when the limit is reached
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage of this attempt, kept in the result
    mark: float = field(default_factory=time.perf_counter)  # when the current stage began

    def lap(self, name: str) -> None:
        """The stage `name` ended now."""
        now = time.perf_counter()
        self.timings[name] = round(now - self.mark, 4)
        self.mark = now


def _to_dicom(job: InferenceJob, model: AiModel, row: ModelVersion, labels: list[Label], read,
              outputs: list) -> list[tuple[str, Dataset]]:
    """The job's DICOM, each with what it holds: "segmentation" (SEG), "findings" (boxes, points), "scores" (SRs)."""
    algorithm = results.AlgorithmInfo(name=model.name, version=row.version, digest=row.digest)
    built: list[tuple[str, Dataset]] = []
    for output in outputs:
        if isinstance(output, LabelVolume):
            built.append(("segmentation", results.segmentation(
                read.sources, labels, output, volume=read.volume, algorithm=algorithm,
                series_instance_uid=result_uid(job.id, "seg-series"), sop_instance_uid=result_uid(job.id, "seg"))))
    findings = [o for o in outputs if isinstance(o, Boxes | Points)]
    if findings:
        built.append(("findings", results.report(
            read.sources, labels, findings, volume=read.volume, algorithm=algorithm,
            series_instance_uid=result_uid(job.id, "sr-series"), sop_instance_uid=result_uid(job.id, "sr"))))
    scores = [o for o in outputs if isinstance(o, Scores)]
    if len(scores) > 1:
        raise results.ResultRefused(f"{len(scores)} Scores outputs: a model returns at most one")
    if scores:
        built.append(("scores", results.score_report(
            read.sources, labels, scores[0], volume=read.volume, algorithm=algorithm,
            series_instance_uid=result_uid(job.id, "sr-scores-series"), sop_instance_uid=result_uid(job.id, "sr-scores"))))
    return built


class Executor:
    """Runs jobs one at a time; start several (processes or threads) for more."""

    def __init__(self, name: str, *, lease_seconds: float = 30.0) -> None:
        self.name, self.lease_seconds = name, lease_seconds

    def serve(self, stop: threading.Event, *, idle_wait: float = 5.0) -> None:
        """Run jobs until `stop`; when the queue is empty, sleep until a job is queued (LISTEN/NOTIFY) or
        `idle_wait` passes (a job whose executor died becomes claimable without a notification)."""
        connection = db.engine().raw_connection()
        connection.detach()  # its own connection, in autocommit for LISTEN: never handed back to the pool
        try:
            raw = connection.dbapi_connection
            raw.set_session(autocommit=True)
            raw.cursor().execute(f"LISTEN {jobs.CHANNEL}")
            while not stop.is_set():
                if self.run_once():
                    continue
                if select.select([raw], [], [], idle_wait)[0]:
                    raw.poll()
                    raw.notifies.clear()
        finally:
            connection.close()

    def run_once(self) -> bool:
        """Claim and run one job; False when the queue had none."""
        with db.session_scope() as session:
            job = jobs.claim(session, self.name, lease_seconds=self.lease_seconds)
            job_id, queued_at, limit = (job.id, job.created_at, job.timeout_seconds) if job else (None, None, 0)
        if job_id is None:
            return False
        beat = _Beat(limit=float(limit), deadline=time.monotonic() + limit)
        beat.timings["queue_wait"] = round(max(0.0, (utcnow() - queued_at).total_seconds()), 4)
        stop = threading.Event()
        thread = threading.Thread(target=self._heartbeat, args=(job_id, beat, stop), daemon=True,
                                  name=f"heartbeat-{job_id}")
        thread.start()
        try:
            self._run(job_id, beat)
        finally:
            stop.set()
            thread.join()
        return True

    def _heartbeat(self, job_id: uuid.UUID, beat: _Beat, stop: threading.Event) -> None:
        while not stop.wait(min(self.lease_seconds / 3, BEAT_SECONDS)):
            try:
                with db.session_scope() as session:
                    if not jobs.heartbeat(session, job_id, self.name, lease_seconds=self.lease_seconds,
                                          stage=beat.stage, progress=beat.progress):
                        beat.cancelled = True
                if beat.cancelled:  # the user sees it cancelled now; the model's answer, when it comes, is dropped
                    self._end(job_id, lambda s, j: jobs.finish(s, j, JobStatus.CANCELLED, error="cancelled"))
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease is three beats long
                log.warning("heartbeat failed", extra={"job": str(job_id)})

    def _end(self, job_id: uuid.UUID, fn: Callable[[Session, InferenceJob], None]) -> None:
        with db.session_scope() as session:
            job = session.get(InferenceJob, job_id, with_for_update=True)
            if job is not None and job.lease_owner == self.name and job.status == JobStatus.RUNNING:
                fn(session, job)

    def _run(self, job_id: uuid.UUID, beat: _Beat) -> None:
        try:
            result = self._execute(job_id, beat)
        except Cancelled:
            self._end(job_id, lambda s, j: jobs.finish(s, j, JobStatus.CANCELLED, error="cancelled"))
        except Retry as e:
            passing = str(e)
            self._end(job_id, lambda s, j: jobs.release(s, j, error=passing))
        except (JobFailed, results.ResultRefused, ApiError) as e:
            reason = getattr(e, "reason", None) or getattr(e, "detail", None) or str(e)
            self._end(job_id, lambda s, j: jobs.finish(s, j, JobStatus.FAILED, error=reason))
        except Exception:  # noqa: BLE001 - the job must end, with a reason that leaks nothing
            log.exception("job failed", extra={"job": str(job_id)})
            self._end(job_id, lambda s, j: jobs.finish(s, j, JobStatus.FAILED,
                                                       error="the job failed on our side; run it again"))
        else:
            self._end(job_id, lambda s, j: jobs.finish(s, j, JobStatus.DONE, result=result))

    def _step(self, job_id: uuid.UUID, beat: _Beat, stage: str, progress: float) -> None:
        """Enter a stage: the job's row says so at once (the panel shows it), and a cancel or the time limit
        stops the job here."""
        if time.monotonic() >= beat.deadline:
            raise JobFailed(f"the job took longer than {beat.limit:g} s (its time limit)")
        beat.stage, beat.progress = stage, progress
        with db.session_scope() as session:
            if not jobs.heartbeat(session, job_id, self.name, lease_seconds=self.lease_seconds, stage=stage,
                                  progress=progress):
                beat.cancelled = True
        if beat.cancelled:
            raise Cancelled()

    def _execute(self, job_id: uuid.UUID, beat: _Beat) -> dict:
        with db.session_scope() as session:
            job = session.get(InferenceJob, job_id)
            user, model = session.get(User, job.user_id), session.get(AiModel, job.model_id)
            row = session.query(ModelVersion).filter_by(model_id=job.model_id, version=job.version).one_or_none()
            if user is None or model is None or row is None or row.digest != job.digest:
                raise JobFailed("the model version or the account is gone")
            principal = Principal.acting_for(user.id, role=user.role, status=user.status)
            self._step(job_id, beat, "reading", 0.1)
            study = study_for(session, principal, job.study_uid, Action.READ, series_uid=job.series_uid)
            labels = list(version_manifest(row).labels)
            beat.lap("dispatch")
            # Only the DICOM attributes the version's tasks declared (found in its code when it was published).
            read = read_series(session, study, job.series_uid, attributes=declared_inputs(row))
            audit.record_once(session, "study_view", window=300.0, actor_id=user.id, client_ip=None,
                              target=f"study:{job.study_uid}", details={"what": "model input", "job": str(job.id)})
            session.expunge_all()
        beat.lap("read")
        self._step(job_id, beat, "model", 0.3)
        body, headers = encode_request(read.volume)
        headers[TIMEOUT_HEADER] = f"{max(0.001, beat.deadline - time.monotonic()):.3f}"  # the job's time left
        try:
            reply = services.deployer().infer(services.ensure(model, row), body, headers)
        except DeployError as e:  # the model host away: the job waits in the queue for its next attempt
            raise Retry(f"the model service is unavailable ({type(e).__name__}); trying again") from e
        beat.lap("model")
        if beat.cancelled:
            raise Cancelled()
        if reply.status in RETRY_STATUSES:
            raise Retry(reply.reason())
        if reply.status != 200:
            raise JobFailed(reply.reason())
        outputs = decode_response(reply.body, reply.headers)
        self._step(job_id, beat, "storing", 0.8)
        built = _to_dicom(job, model, row, labels, read, outputs)
        summary = results.summary(labels, outputs, volume=read.volume)
        beat.lap("build")
        stored = self._store(principal, [ds for _, ds in built], read.identity)
        beat.lap("store")
        instances = [{**instance, "content": content} for (content, _), instance in zip(built, stored, strict=True)]
        return {"kind": "seg" if any(content == "segmentation" for content, _ in built) else "sr",
                "instances": instances, "summary": summary, "timings": dict(beat.timings)}

    def _store(self, principal: Principal, built: list[Dataset], identity) -> list[dict]:
        stored = []
        with db.session_scope() as session:
            with Ingest(session, principal.user_id, may_store=may_store(principal)) as ingest:
                for ds in built:
                    originals.restore_dataset(ds, identity)  # the study's real identity, as an upload carries it
                    buffer = io.BytesIO()
                    ds.save_as(buffer, enforce_file_format=True)
                    parsed = parse_part10(buffer.getvalue())
                    check_instance(parsed)
                    ingest.add(parsed)
                outcomes = ingest.finish()
            failed = [o.error for o in outcomes if o.error is not None]
            if failed:
                raise JobFailed(f"the result could not be stored: {failed[0]}")
        for ds in built:
            stored.append({"series_uid": str(ds.SeriesInstanceUID), "sop_uid": str(ds.SOPInstanceUID),
                           "modality": str(ds.Modality)})
        return stored



def main() -> int:
    """`python -m functions.inference.executor`: one executor, until SIGTERM."""
    import os
    import signal
    import socket

    from functions.common.platform.config import get_settings
    from functions.common.platform.logs import configure_logging

    configure_logging(get_settings().log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Executor(f"{socket.gethostname()}-{os.getpid()}").serve(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
