"""The load benchmark's work: uploaders storing series through STOW-RS (instances failed for a retry are sent
again after the wait), viewers reading frames and metadata of what their account stored, searchers asking
QIDO-RS; each a thread with its own signed-in `LoadClient`, until told to stop.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from harness import PASSWORD
from load_clients import (
    FRAME,
    METADATA,
    PROCESSING_FAILURE,
    QIDO_INSTANCES,
    QIDO_STUDIES,
    STOW,
    LoadClient,
    Recorder,
    retry_after,
)
from mcc_local.dicomgen import Patient, ct_series, to_bytes

BOUNDARY = "mcc-load-boundary-5e2a"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"'


# ---------------------------------------------------------------------------------------------- uploads


class SeriesMaker:
    """Fresh series of one patient from one generated template: each copy gets new Study, Series and SOP
    Instance UIDs by replacing the template's in place, each by one as long (so every element keeps its length)."""

    def __init__(self, patient: Patient, slices: int, rows: int) -> None:
        datasets = ct_series(patient, slices=slices, rows=rows, columns=rows)
        self.template = [to_bytes(ds) for ds in datasets]
        self.study, self.series = str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID)
        self.sops = [str(ds.SOPInstanceUID) for ds in datasets]

    def fresh(self) -> tuple[str, str, list[tuple[str, bytes]]]:
        """A new series: its study and series UIDs, and each instance's SOP Instance UID and bytes."""
        study, series = _uid_like(self.study), _uid_like(self.series)
        instances = []
        for old_sop, raw in zip(self.sops, self.template, strict=True):
            sop = _uid_like(old_sop)
            raw = raw.replace(self.study.encode(), study.encode()).replace(self.series.encode(), series.encode())
            instances.append((sop, raw.replace(old_sop.encode(), sop.encode())))
        return study, series, instances


def _uid_like(old: str) -> str:
    """A new UID as long as `old`: its root, then as many fresh digits as its last component had."""
    root, last = old.rsplit(".", 1)
    return f"{root}.{secrets.randbelow(9) + 1}" + "".join(str(secrets.randbelow(10)) for _ in range(len(last) - 1))


def multipart(parts: Sequence[bytes]) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
    return b"".join(head + p + b"\r\n" for p in parts) + f"--{BOUNDARY}--\r\n".encode()


def _sop_uids(items: list[dict]) -> Iterator[tuple[str, int | None]]:
    for item in items:
        reason = item.get("00081197", {}).get("Value", [None])[0]
        yield item.get("00081155", {}).get("Value", [""])[0], reason


def store_batch(client: LoadClient, account: str, study: str, series: str,
                batch: list[tuple[str, bytes]]) -> None:
    """Store instances until each is acknowledged or failed: those the gateway failed as processing failures
    with Retry-After (the archive or the index was busy or down) are sent again after the wait."""
    todo, rec = dict(batch), client.recorder
    deadline = time.monotonic() + client.budget
    while todo:
        r = client.call(STOW, "POST", "/dicom-web/studies", data=multipart(list(todo.values())),
                        headers={"Content-Type": STOW_TYPE, "Accept": "application/dicom+json"})
        if r is None or r.status_code not in (200, 202, 409):
            why = "no answer" if r is None else f"HTTP {r.status_code}"
            rec.failed.update({sop: why for sop in todo})
            return
        body = r.json()
        body = body[0] if isinstance(body, list) else body
        acked = [sop for sop, _ in _sop_uids(body.get("00081199", {}).get("Value", [])) if sop in todo]
        rec.stored(account, study, series, acked)
        for sop in acked:
            del todo[sop]
        wait = retry_after(r)
        answered = set(acked)
        for sop, reason in _sop_uids(body.get("00081198", {}).get("Value", [])):
            answered.add(sop)
            if sop in todo and (reason != PROCESSING_FAILURE or wait is None or time.monotonic() + wait > deadline):
                rec.failed[sop] = f"failure reason {reason}"
                del todo[sop]
        for sop in [sop for sop in todo if sop not in answered]:
            rec.failed[sop] = "not in the answer"
            del todo[sop]
        if todo:
            rec.resent += len(todo)
            time.sleep((wait or 1.0) + random.uniform(0, 0.5))


def store_series(client: LoadClient, account: str, maker: SeriesMaker, batch: int) -> None:
    """One new series (a study of its own), in requests of `batch` instances."""
    study, series, instances = maker.fresh()
    for i in range(0, len(instances), batch):
        store_batch(client, account, study, series, instances[i:i + batch])


def uploader(client: LoadClient, account: str, maker: SeriesMaker, batch: int, stop: threading.Event,
             max_series: int) -> None:
    """Store series after series until `stop` (a series under way is finished) or `max_series`."""
    for _ in range(max_series):
        if stop.is_set():
            return
        store_series(client, account, maker, batch)


# ------------------------------------------------------------------------------------------- reads


def viewer(client: LoadClient, account: str, stop: threading.Event) -> None:
    """Read frame 1 and the metadata of instances the account's uploader has stored, at random."""
    rng = random.Random(account + client.email)
    while not stop.is_set():
        stored = client.recorder.readable(account)
        if not stored:
            stop.wait(0.2)
            continue
        study, series, sop = rng.choice(stored)
        path = f"/dicom-web/studies/{study}/series/{series}/instances/{sop}"
        client.call(FRAME, "GET", path + "/frames/1", headers={"Accept": FRAME_ACCEPT})
        client.call(METADATA, "GET", path + "/metadata", headers={"Accept": "application/dicom+json"})


def searcher(client: LoadClient, account: str, patient: Patient, stop: threading.Event) -> None:
    """Search studies as a worklist does (by patient, by modality, unfiltered; 25 a page), and the instances of
    series the account holds."""
    rng = random.Random(account)
    queries = [{"PatientName": patient.name.split("^")[0] + "*"}, {"PatientID": patient.patient_id},
               {"ModalitiesInStudy": "CT"}, {}]
    while not stop.is_set():
        client.call(QIDO_STUDIES, "GET", "/dicom-web/studies", params={**rng.choice(queries), "limit": "25"},
                    headers={"Accept": "application/dicom+json"})
        stored = client.recorder.readable(account)
        if stored:
            study, series, _ = rng.choice(stored)
            client.call(QIDO_INSTANCES, "GET", f"/dicom-web/studies/{study}/series/{series}/instances",
                        params={"limit": "50"}, headers={"Accept": "application/dicom+json"})


# ---------------------------------------------------------------------------------------------- the load


@dataclass
class LoadShape:
    """How many clients of each kind, and what the uploaders store."""

    uploaders: int = 4
    viewers: int = 4
    searchers: int = 2
    slices: int = 200
    rows: int = 256
    batch: int = 20
    max_series: int = 1000


@dataclass
class Load:
    """The clients at work, in threads, until `stop`; `recorder` holds what they saw."""

    shape: LoadShape
    recorder: Recorder = field(default_factory=Recorder)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, origin: str, public_url: str, accounts: Sequence[str], patients: Sequence[Patient]) -> None:
        """Sign every client in, store one series per uploader first (so viewers have something to read from the
        start; not counted), then start them all."""
        s, makers = self.shape, [SeriesMaker(p, self.shape.slices, self.shape.rows) for p in patients]

        def client(i: int) -> LoadClient:
            c = LoadClient(origin, public_url, accounts[i % len(accounts)], self.recorder)
            c.headers()  # signed in before the load starts
            return c

        uploads = [client(i) for i in range(s.uploaders)]
        for i, c in enumerate(uploads):
            store_series(c, c.email, makers[i % len(makers)], s.batch)
        self.recorder.answers.clear()
        self.recorder.seeded = len(self.recorder.acknowledged)
        self.recorder.started = time.monotonic()
        for i, c in enumerate(uploads):
            self._run(f"uploader-{i}", uploader, c, c.email, makers[i % len(makers)], s.batch, self.stop,
                      s.max_series)
        for i in range(s.viewers):
            c = client(i)
            self._run(f"viewer-{i}", viewer, c, c.email, self.stop)
        for i in range(s.searchers):
            c = client(i)
            self._run(f"searcher-{i}", searcher, c, c.email, patients[i % len(patients)], self.stop)

    def _run(self, name: str, target: Callable, *args) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def finish(self, timeout: float = 600) -> float:
        """Stop the clients (an upload under way completes its series) and wait for them; when they stopped."""
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            raise TimeoutError(f"clients still running after {timeout:.0f} s: {alive}")
        return time.monotonic()

    def acknowledged_count(self) -> int:
        return len(self.recorder.acknowledged)


def create_accounts(n: int) -> list[str]:
    """`n` approved health professionals who sign in with the benchmark password (created in the platform's
    database, which `Platform.up` configured this process for); their emails."""
    from functions.auth import accounts
    from functions.common.platform import db

    emails = [f"load-{i:02d}@example.org" for i in range(n)]
    with db.session_scope() as session:
        for i, email in enumerate(emails):
            accounts.create_user(session, email=email, name=f"Dr Load {i}", role="health_professional",
                                 password=PASSWORD, email_verified=True, status="active")
    return emails
