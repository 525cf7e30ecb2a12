"""The load benchmark's outages and checks: Orthanc killed and PostgreSQL stopped immediately while an upload is
under way (each kept down until an upload has met the outage, then restarted; the functions keep running), and
afterwards whether the run met its target: no failed instance, no 5xx or unanswered request outside an outage
(inside one only as problem+json), the same function processes before and after, and the index and the
archive agreeing with each other and with what clients were told.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from harness import Gateway, http_session, peak_rss_mb
from load_clients import STOW, Answer, Recorder
from mcc_local.launcher import Platform

GRACE = 5.0  # seconds after a restart during which answers to requests caught by the outage may still arrive


@dataclass
class Outage:
    what: str
    started: float
    back: float = 0.0

    def covers(self, at: float) -> bool:
        return self.started <= at <= self.back + GRACE


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll until `condition` holds; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(poll)


def stow_hit_since(recorder: Recorder, since: float) -> Callable[[], bool]:
    """Whether an upload has met the outage since `since`: a STOW answered 5xx or not at all, or asking to wait."""
    return lambda: any(a.route == STOW and a.at >= since and (_unhealthy(a) or a.asked_to_wait)
                       for a in recorder.answers[-400:])


def kill_orthanc(platform: Platform, recorder: Recorder, *, down_at_least: float = 0.0) -> Outage:
    """SIGKILL Orthanc (as a crash or the OOM killer would) while a STOW request is under way, keep it down until an
    upload has met the outage, then start it again."""
    _mid_stow(recorder)
    outage = Outage("Orthanc killed (SIGKILL), restarted", time.monotonic())
    platform.orthanc.kill()
    _stay_down(outage, recorder, down_at_least)
    platform.orthanc.start()
    outage.back = time.monotonic()
    return outage


def stop_postgres_immediately(platform: Platform, recorder: Recorder, *, down_at_least: float = 0.0) -> Outage:
    """`pg_ctl stop -m immediate` (every backend killed, no checkpoint: a crash to recover from) while a STOW
    request is under way, keep it down until an upload has met the outage, then start it again."""
    pg = platform.pg
    _mid_stow(recorder)
    outage = Outage("PostgreSQL stopped (immediate), restarted", time.monotonic())
    pg.stop(mode="immediate")
    _stay_down(outage, recorder, down_at_least)
    pg.start()
    outage.back = time.monotonic()
    return outage


def _mid_stow(recorder: Recorder) -> None:
    wait_for(lambda: recorder.in_flight[STOW] > 0, 60, "a STOW request under way", poll=0.005)


def _stay_down(outage: Outage, recorder: Recorder, at_least: float) -> None:
    wait_for(stow_hit_since(recorder, outage.started), 60, f"{outage.what}: an upload met it")
    remaining = outage.started + at_least - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def function_processes(platform: Platform) -> set[int]:
    """The origin's gunicorn master and workers: the same set after the run means no function was restarted."""
    return set(peak_rss_mb(platform.procs.running()["origin"]))


# ------------------------------------------------------------------------------------------- consistency


@dataclass
class Consistency:
    """The index, the archive and what clients were told, compared after the load."""

    acknowledged: int = 0
    indexed: int = 0
    archived: int = 0
    not_indexed: list[str] = field(default_factory=list)   # acknowledged to a client, absent from the index
    unreadable: list[str] = field(default_factory=list)    # acknowledged, but the gateway does not serve it
    half_stored: list[str] = field(default_factory=list)   # in the archive, not in the index
    missing: list[str] = field(default_factory=list)       # in the index, not in the archive

    @property
    def problems(self) -> list[str]:
        found = []
        for label, items in (("acknowledged but not indexed", self.not_indexed),
                             ("acknowledged but not readable through the gateway", self.unreadable),
                             ("in the archive but not in the index (half-stored)", self.half_stored),
                             ("in the index but missing from the archive", self.missing)):
            if items:
                found.append(f"{len(items)} instances {label}, e.g. {items[:3]}")
        return found


def check_consistency(platform: Platform, recorder: Recorder, readers: dict[str, Gateway]) -> Consistency:
    """Every acknowledged instance indexed and readable (its series' metadata through the gateway, as its
    uploader); every instance in Orthanc indexed, and every indexed one in Orthanc."""
    from sqlalchemy import select

    from functions.common.dicom.index import Instance
    from functions.common.platform import db

    with db.session_scope() as session:
        index = {sop: orthanc_id for sop, orthanc_id in session.execute(select(Instance.sop_uid, Instance.orthanc_id))}
    archive = set(orthanc_session(platform).get(platform.orthanc.url + "/instances", timeout=120).json())
    acknowledged = dict(recorder.acknowledged)
    result = Consistency(len(acknowledged), len(index), len(archive))
    result.not_indexed = sorted(sop for sop in acknowledged if sop not in index)
    result.half_stored = sorted(archive - set(index.values()))
    result.missing = sorted(sop for sop, orthanc_id in index.items() if orthanc_id not in archive)
    series: dict[tuple[str, str, str], set[str]] = {}
    for sop, key in acknowledged.items():
        series.setdefault(key, set()).add(sop)
    with ThreadPoolExecutor(4) as pool:
        for unread in pool.map(lambda item: _unreadable(readers[item[0][0]], *item[0][1:], item[1]),
                               series.items()):
            result.unreadable.extend(unread)
    return result


def _unreadable(gw: Gateway, study: str, series: str, sops: set[str]) -> list[str]:
    """The instances of `sops` the series' metadata through the gateway does not hold."""
    r = gw.session.get(f"{gw.origin}/dicom-web/studies/{study}/series/{series}/metadata",
                       headers=gw.headers(Accept="application/dicom+json"), timeout=300)
    if r.status_code != 200:
        return sorted(sops)
    served = {item.get("00080018", {}).get("Value", [""])[0] for item in r.json()}
    return sorted(sops - served)


# ---------------------------------------------------------------------------------------------- verdict


def verdict(recorder: Recorder, outages: Sequence[Outage], consistency: Consistency,
            processes_before: set[int], processes_after: set[int]) -> list[str]:
    """Why the run missed its target (empty: it met it)."""
    misses = []
    if recorder.failed:
        reasons = sorted(set(recorder.failed.values()))
        misses.append(f"{len(recorder.failed)} instances failed ({', '.join(reasons[:4])})")
    outside = [a for a in recorder.answers if _unhealthy(a) and not any(o.covers(a.at) for o in outages)]
    if outside:
        windows = ", ".join(f"{o.started - recorder.started:.1f}–{o.back + GRACE - recorder.started:.1f} s"
                            for o in outages)
        misses.append(f"{len(outside)} answers 5xx or missing outside the outages ({windows or 'none'}): "
                      + _sample(outside, recorder.started))
    unclean = [a for a in recorder.answers if a.status and a.status >= 500 and not a.problem]
    if unclean:
        misses.append(f"{len(unclean)} 5xx answers not problem+json: {_sample(unclean, recorder.started)}")
    client_errors = [a for a in recorder.answers if a.status and 400 <= a.status < 500]
    if client_errors:
        misses.append(f"{len(client_errors)} answers 4xx: {_sample(client_errors, recorder.started)}")
    if processes_before != processes_after:
        misses.append(f"function processes changed: {sorted(processes_before)} -> {sorted(processes_after)}")
    return misses + consistency.problems


def _unhealthy(a: Answer) -> bool:
    return a.status is None or a.status >= 500


def _sample(answers: Sequence[Answer], since: float) -> str:
    return ", ".join(f"{a.route} {a.status or 'no answer'} at {a.at - since:.1f} s" for a in answers[:4])


def orthanc_session(platform: Platform) -> requests.Session:
    s = http_session()
    s.auth = tuple(platform.orthanc.credentials)
    return s
