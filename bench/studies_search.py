"""The studies benchmark's searches: QIDO-RS and the portal's study list over a large index, alternately, with the
kinds of query a user runs."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness import Gateway
from index_seed import STUDY_KINDS, SeededPatient


@dataclass(frozen=True)
class Query:
    kind: str
    qido: dict[str, str | int]
    portal: dict[str, str | int]


def search_queries(patients: Sequence[SeededPatient], rng: random.Random, n: int) -> list[Query]:
    """n searches cycling through the kinds a user runs: name prefix, exact ID, date range, modality, none."""
    modalities = sorted({m for kind in STUDY_KINDS for m in kind[0]})
    out = []
    for i in range(n):
        kind = ("name", "patient_id", "date_range", "modality", "unfiltered")[i % 5]
        if kind == "name":
            surname = rng.choice(patients).name.split("^")[0]
            prefix = surname[: rng.randint(2, 4)]
            out.append(Query(kind, {"PatientName": f"{prefix}*"}, {"patient_name": f"{prefix}*"}))
        elif kind == "patient_id":
            pid = rng.choice(patients).patient_id
            out.append(Query(kind, {"PatientID": pid}, {"patient_id": pid}))
        elif kind == "date_range":
            start = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(10 * 365))
            end = start + dt.timedelta(days=rng.choice((7, 30, 90)))
            out.append(Query(kind, {"StudyDate": f"{start:%Y%m%d}-{end:%Y%m%d}"},
                             {"date_from": start.isoformat(), "date_to": end.isoformat()}))
        elif kind == "modality":
            m = rng.choice(modalities)
            out.append(Query(kind, {"ModalitiesInStudy": m}, {"modality": m}))
        else:
            out.append(Query(kind, {}, {}))
    return out


@dataclass
class SearchFigures:
    """Per API ("qido", "portal") and query kind: latencies (ms) and result counts."""

    ms: dict[str, dict[str, list[float]]]
    hits: dict[str, dict[str, list[int]]]

    def every(self, api: str) -> list[float]:
        return [ms for values in self.ms[api].values() for ms in values]


def search_latencies(gw: Gateway, queries: Sequence[Query], warmup: int) -> SearchFigures:
    """Each query via QIDO-RS and via the portal list, alternately, limit 25, after `warmup` untimed ones."""
    figures = SearchFigures({"qido": {}, "portal": {}}, {"qido": {}, "portal": {}})

    def run(api: str, q: Query) -> tuple[float, int]:
        if api == "qido":
            url, params, accept = "/dicom-web/studies", {**q.qido, "limit": 25}, "application/dicom+json"
        else:
            url, params, accept = "/api/studies", {**q.portal, "limit": 25}, "application/json"
        headers = gw.headers(Accept=accept)
        t0 = time.perf_counter()
        r = gw.session.get(gw.origin + url, params=params, headers=headers, timeout=30)
        body = r.json()
        elapsed = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, f"{api} {params}: {r.status_code} {r.text[:300]}"
        return elapsed, len(body if api == "qido" else body["items"])

    for q in queries[:warmup]:
        run("qido", q)
        run("portal", q)
    for i, q in enumerate(queries):
        for api in (("qido", "portal") if i % 2 == 0 else ("portal", "qido")):
            ms, n = run(api, q)
            figures.ms[api].setdefault(q.kind, []).append(ms)
            figures.hits[api].setdefault(q.kind, []).append(n)
    return figures


def check_decrypts(gw: Gateway, patient: SeededPatient) -> None:
    """A QIDO hit carries the original patient name and ID (the sealed originals open)."""
    r = gw.session.get(gw.origin + "/dicom-web/studies", params={"PatientID": patient.patient_id},
                       headers=gw.headers(Accept="application/dicom+json"), timeout=30)
    assert r.status_code == 200 and r.json(), r.text[:300]
    item = r.json()[0]
    assert item["00100010"]["Value"][0]["Alphabetic"] == patient.name, item
    assert item["00100020"]["Value"][0] == patient.patient_id, item
