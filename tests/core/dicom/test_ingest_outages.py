"""Ingest when the archive or the index goes away mid-request: what a client was told matches what is kept,
and afterwards the archive holds exactly what the index holds.

The archive here is the real Orthanc behind a loopback stand-in that can lose answers: it passes a store on to
Orthanc (which keeps the instance) and then drops the connection without answering, as when Orthanc dies
between storing and answering. The index is the real PostgreSQL; a connection it drops is one the test's
session terminates itself.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from mcc_local.procs import free_port
from sqlalchemy import event, func, select, text, update

from functions.common.access.policy import may_store
from functions.common.dicom.index import Instance
from functions.common.dicom.ingest import ARCHIVE_BUSY, INDEX_DOWN, Ingest
from functions.common.dicom.strays import SETTLE_AFTER, ArchiveStray
from functions.common.dicom.validation import check_instance, parse_part10
from functions.common.platform import db as database
from functions.common.platform.config import reset_settings


@dataclass
class FlakyArchive:
    """Passes requests on to Orthanc; while `losing`, a store reaches Orthanc but its answer never comes back."""

    target: str
    losing: bool = False
    lost: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def flaky_archive(archive, platform_env, monkeypatch) -> Iterator[FlakyArchive]:
    """The stand-in, and this process's settings pointing the ingest at it (restored afterwards)."""
    flaky = FlakyArchive(archive.url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            answer = requests.request(self.command, flaky.target + self.path, data=body, headers=headers, timeout=30)
            if flaky.losing and self.command == "POST" and self.path == "/instances":
                flaky.lost.append(answer.json()["ID"])  # stored in Orthanc, and the answer is lost on the way
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(answer.status_code)
            for name in ("Content-Type",):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_DELETE = _relay

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:  # a dropped connection is the point
            pass

    server = Server(("127.0.0.1", free_port()), Handler)
    flaky.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MCC_ORTHANC_URL", flaky.url)
    reset_settings()
    yield flaky
    server.shutdown()
    server.server_close()
    monkeypatch.undo()
    reset_settings()


def _series(n: int) -> list[bytes]:
    """A new series as a client sends it (Part 10 files: a retry sends the same bytes again)."""
    return [to_bytes(ds) for ds in ct_series(Patient(name="CORE^OUTAGE", patient_id=f"CO-{uuid.uuid4().hex[:8]}"),
                                             slices=n, rows=16, columns=16)]


def _checked(raw: bytes):
    """An instance parsed and checked, as the gateway hands it to ingest (which pseudonymises it in place)."""
    parsed = parse_part10(raw)
    check_instance(parsed)
    return parsed


def _store(db, person, instances: list[bytes]) -> list:
    with Ingest(db, person.id, may_store=may_store(person.principal)) as ingest:
        for raw in instances:
            ingest.add(_checked(raw))
        return ingest.finish()


def _no_retry_came(db) -> None:
    """Time passes: every note is older than a client's retry would have been."""
    db.execute(update(ArchiveStray).values(noted_at=func.now() - 2 * SETTLE_AFTER))
    db.commit()


def _in_archive(archive, sop_uid: str) -> bool:
    hits = requests.post(archive.url + "/tools/lookup", data=sop_uid, auth=tuple(archive.credentials), timeout=10)
    return any(hit["Type"] == "Instance" for hit in hits.json())


def _indexed(db, sop_uid: str) -> bool:
    return db.scalar(select(Instance.id).where(Instance.sop_uid == sop_uid)) is not None


def test_an_upload_whose_answer_was_lost_is_removed_by_the_next_ingest(db, world, archive, flaky_archive):
    doctor = world.person()
    flaky_archive.losing = True
    (outcome,) = _store(db, doctor, _series(1))
    assert outcome.error is not None and outcome.error.retry and outcome.error.message == ARCHIVE_BUSY
    assert flaky_archive.lost and _in_archive(archive, outcome.sop_uid)  # the archive kept what it never confirmed
    assert not _indexed(db, outcome.sop_uid)

    flaky_archive.losing = False
    assert _store(db, doctor, _series(1))[0].stored
    assert _in_archive(archive, outcome.sop_uid)  # left alone a while: the client's retry would keep it
    _no_retry_came(db)
    assert _store(db, doctor, _series(1))[0].stored  # an ingest that reaches the archive settles the stray
    assert not _in_archive(archive, outcome.sop_uid) and not _indexed(db, outcome.sop_uid)
    assert db.get(ArchiveStray, flaky_archive.lost[0]).removed_at is not None


def test_a_retry_of_an_upload_whose_answer_was_lost_is_kept(db, world, archive, flaky_archive):
    doctor = world.person()
    (instance,) = _series(1)
    flaky_archive.losing = True
    assert not _store(db, doctor, [instance])[0].stored
    flaky_archive.losing = False
    (retried,) = _store(db, doctor, [instance])  # the client sends it again: the archive says "already stored"
    assert retried.stored and _indexed(db, retried.sop_uid) and _in_archive(archive, retried.sop_uid)
    assert db.get(ArchiveStray, flaky_archive.lost[0]) is None


def test_a_retry_after_the_stray_was_swept_is_stored_again(db, world, archive, flaky_archive):
    doctor = world.person()
    (instance,), (other,) = _series(1), _series(1)
    flaky_archive.losing = True
    assert not _store(db, doctor, [instance])[0].stored
    flaky_archive.losing = False
    _no_retry_came(db)
    assert _store(db, doctor, [other])[0].stored  # this ingest's sweep takes the stray out of the archive
    assert not _in_archive(archive, str(_checked(instance).SOPInstanceUID))
    (retried,) = _store(db, doctor, [instance])
    assert retried.stored and _indexed(db, retried.sop_uid) and _in_archive(archive, retried.sop_uid)


@pytest.fixture
def connection_lost(db, monkeypatch):
    """Make PostgreSQL terminate the session's connection (as a restart does) once: 'index' right after the
    batch's rows are written, 'commit' as the batch commits (so the COMMIT's outcome is unknown)."""

    def terminate() -> None:
        db.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    def arm(when: str) -> None:
        if when == "commit":
            event.listen(db, "before_commit", lambda session: terminate(), once=True)
            return
        index = Ingest._index

        def index_then_lose_the_connection(self, batch):
            index(self, batch)
            monkeypatch.setattr(Ingest, "_index", index)
            terminate()

        monkeypatch.setattr(Ingest, "_index", index_then_lose_the_connection)

    return arm


@pytest.mark.parametrize("when", ["index", "commit"])
def test_a_database_lost_while_indexing_ends_the_request_and_leaves_nothing_half_stored(
        db, world, archive, connection_lost, when):
    doctor = world.person()
    db.commit()
    series = _series(3)
    connection_lost(when)
    ingest = Ingest(db, doctor.id, may_store=may_store(doctor.principal))
    with pytest.raises(database.DatabaseUnavailable), ingest:
        for raw in series:
            ingest.add(_checked(raw))
        ingest.finish()
    database.discard(db)
    assert all(o.error.retry and o.error.message == INDEX_DOWN for o in ingest.outcomes)
    sops = [o.sop_uid for o in ingest.outcomes]
    if when == "commit":  # that COMMIT may have landed: the archive keeps the batch until an ingest settles it
        assert _store(db, doctor, _series(1))[0].stored  # writes the notes the lost connection left in the process
        _no_retry_came(db)
        assert _store(db, doctor, _series(1))[0].stored
    assert not any(_indexed(db, sop) for sop in sops)
    assert not any(_in_archive(archive, sop) for sop in sops)
