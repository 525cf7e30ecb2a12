"""The load benchmark's core, small: uploaders, a viewer and a searcher at work on a platform of their own while
Orthanc is killed and restarted, then PostgreSQL stopped in immediate mode and restarted. Every acknowledged
instance is kept and readable, nothing is answered 5xx outside the outages (inside them only as problem+json),
the functions are never restarted, and afterwards the index and the archive agree.

Every wait is for a state (uploads acknowledged, the outage seen by a client, a service back), never a time.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from harness import Gateway, throwaway_platform  # noqa: E402
from load_checks import (  # noqa: E402
    check_consistency,
    function_processes,
    kill_orthanc,
    stop_postgres_immediately,
    verdict,
    wait_for,
)
from load_clients import FRAME  # noqa: E402
from load_work import Load, LoadShape, create_accounts  # noqa: E402
from mcc_local.dicomgen import Patient  # noqa: E402
from mcc_local.launcher import Platform  # noqa: E402

from functions.common.platform.config import reset_settings  # noqa: E402

PROGRESS = 30  # instances acknowledged between two steps: the load is under way, or has recovered


@pytest.fixture
def platform() -> Iterator[Platform]:
    """A throwaway platform as local-dev runs it (its own PostgreSQL, Orthanc and gunicorn: the session's stay
    untouched); this process's settings, which `up` points at it, are restored afterwards."""
    saved = dict(os.environ)
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    try:
        with throwaway_platform() as started:
            started.up()
            yield started
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()


def test_uploads_survive_an_orthanc_kill_and_a_postgres_restart_with_index_and_archive_agreeing(platform):
    emails = create_accounts(2)
    patients = [Patient(name=f"CHAOS^UPLOADER{i}", patient_id=f"CHAOS-{i:03d}") for i in range(2)]
    origin = f"https://127.0.0.1:{platform.ports.https}"
    load = Load(LoadShape(uploaders=2, viewers=1, searchers=1, slices=20, rows=64, batch=10, max_series=1000))
    load.start(origin, platform.public_url, emails, patients)
    before = function_processes(platform)
    outages = []
    try:
        _progress(load, "uploads under way")
        outages.append(kill_orthanc(platform, load.recorder))
        _progress(load, "uploads again after Orthanc's restart")
        outages.append(stop_postgres_immediately(platform, load.recorder))
        _progress(load, "uploads again after PostgreSQL's restart")
        back = outages[-1].back
        wait_for(lambda: any(a.route == FRAME and a.status == 200 and a.at > back for a in load.recorder.answers),
                 60, "a frame read after the restarts")
    finally:
        load.finish()
    after = function_processes(platform)

    readers = {email: Gateway(origin, platform.public_url, email) for email in emails}
    consistency = check_consistency(platform, load.recorder, readers)
    assert consistency.acknowledged > 3 * PROGRESS
    assert any(a.retried for a in load.recorder.answers)  # the outages reached the clients, who tried again
    assert not verdict(load.recorder, outages, consistency, before, after)


def _progress(load: Load, what: str) -> None:
    """Wait until PROGRESS more instances are acknowledged than now."""
    target = load.acknowledged_count() + PROGRESS
    wait_for(lambda: load.acknowledged_count() >= target, 90, what)
