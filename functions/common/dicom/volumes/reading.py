"""A series from the archive as a model's input, for a study its caller was authorised to read (the caller asks
the permission model, and audits the view): every instance fetched from Orthanc in parallel
(`/instances/{id}/file`, the cheapest path Orthanc 1.10 offers: see bench/series_read_bench.py) and decoded as
it arrives, the asked attributes restored from the sealed originals exactly as the gateway restores them."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom import Dataset
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import ArchiveRefused, orthanc
from functions.common.platform.errors import NotFound
from model_builder.volume import Volume

from .assemble import build, rescaled_frames, series_layout
from .attributes import check_keywords
from .errors import SeriesUnreadable
from .pixels import can_decode, stored_frames, transfer_syntax
from .planes import Plane, planes_of

log = logging.getLogger(__name__)

FETCH_WORKERS = 4      # Orthanc serves files in parallel; beyond ~4 its storage plugin is the bottleneck
NO_SUCH_SERIES = "No such series or instance in this study."


@dataclass
class Timings:
    """Where a read's time went (seconds): wall-clock stages, and fetching and decoding summed over workers."""

    index: float = 0.0      # the series' instances from the index
    transfer: float = 0.0   # wall: every instance fetched and decoded, in parallel
    fetch: float = 0.0      # summed over the workers
    decode: float = 0.0     # summed over the workers: parse, decode, geometry and rescale
    layout: float = 0.0     # the grid's checks and the sort
    stack: float = 0.0      # the sorted images into one array (rescaled by the workers)
    attributes: float = 0.0
    total: float = 0.0
    instances: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class _Fetched:
    ds: Dataset
    planes: list[Plane]
    values: list[np.ndarray]
    fetch: float
    decode: float
    size: int


def _get(orthanc_id: str, sop_uid: str, path: str) -> bytes:
    """The whole body in one read: `.content` reads 10 kB at a time, each read waiting for the GIL while
    another worker parses, which made fetching 1.6x slower than the same requests with idle threads."""
    try:
        resp = orthanc().request("GET", f"/instances/{orthanc_id}{path}", stream=True)
        return b"".join(resp.iter_content(chunk_size=None))
    except ArchiveRefused as e:
        if e.status == 404:
            raise NotFound(NO_SUCH_SERIES) from None
        raise SeriesUnreadable(sop_uid, e.status) from None


def _fetch(row: Any) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    return _get(row.orthanc_id, row.sop_uid, "/file"), time.perf_counter() - t0


def _decoded(source: int, row: Any, data: bytes, fetch: float) -> _Fetched:
    """One instance's images: geometry and rescaled values; pixel data pydicom cannot decode here (e.g. JPEG
    Lossless without pylibjpeg) is decoded by Orthanc instead (`/numpy`, stored values)."""
    t0 = time.perf_counter()
    ds = pydicom.dcmread(io.BytesIO(data))
    if can_decode(transfer_syntax(ds)):
        frames = stored_frames(ds)
    else:
        decoded = np.load(io.BytesIO(_get(row.orthanc_id, row.sop_uid, "/numpy?rescale=0")), allow_pickle=False)
        frames = decoded.reshape(int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns))
    planes = planes_of(ds, source)
    return _Fetched(ds, planes, rescaled_frames(frames, planes), fetch, time.perf_counter() - t0, len(data))


def _transfer(rows: list[Any]) -> list[_Fetched]:
    """Every instance fetched and decoded by FETCH_WORKERS threads, each decoding what it fetched (measured
    against one separate decoding thread, which became the bottleneck on a busy 2-core machine)."""
    with ThreadPoolExecutor(min(FETCH_WORKERS, len(rows)), thread_name_prefix="series-read") as pool:
        return list(pool.map(lambda n: _decoded(n, rows[n], *_fetch(rows[n])), range(len(rows))))


def _instances(db: Session, study: Study, series_uid: str) -> list[Any]:
    rows = db.execute(select(Instance.sop_uid, Instance.orthanc_id, Instance.originals_enc).join(Series)
                      .where(Series.study_pk == study.id, Series.series_uid == series_uid)).all()
    if not rows:
        raise NotFound(NO_SUCH_SERIES)
    return list(rows)


@dataclass(frozen=True)
class SeriesRead:
    """A series read for a model: its Volume, its instances as the archive holds them (pseudonymised; what a
    result references), and the study's identity (the first slice's originals) to put back into a result."""

    volume: Volume
    sources: list[Dataset]
    identity: originals.Originals


def read_series(db: Session, study: Study, series_uid: str, *, attributes: Sequence[str] = (),
                timings: Timings | None = None) -> SeriesRead:
    """The series of an authorised study as a Volume with the asked attributes' original values; `timings`, when
    given, is filled with where the time went."""
    spent = timings if timings is not None else Timings()
    start = time.perf_counter()
    keywords = check_keywords(attributes)
    rows = _instances(db, study, series_uid)
    t = time.perf_counter()
    spent.index = t - start
    fetched = _transfer(rows)
    spent.transfer, t = time.perf_counter() - t, time.perf_counter()
    spent.fetch, spent.decode = sum(f.fetch for f in fetched), sum(f.decode for f in fetched)
    spent.instances, spent.bytes = len(fetched), sum(f.size for f in fetched)
    datasets = [f.ds for f in fetched]
    grid = series_layout(datasets, [f.planes for f in fetched])
    spent.layout, t = time.perf_counter() - t, time.perf_counter()
    first = rows[grid.first.source]
    identity = originals.open_sealed(originals.study_key(study), first.originals_enc, study_uid=study.study_uid,
                                     sop_uid=first.sop_uid)
    spent.attributes = time.perf_counter() - t

    volume = build(datasets, [f.values for f in fetched], grid, attributes=keywords,
                   restore=lambda ds: originals.restore_dataset(ds, identity))
    spent.stack = time.perf_counter() - t - spent.attributes
    spent.total = time.perf_counter() - start
    log.info("series read", extra={"instances": spent.instances, "seconds": round(spent.total, 3)})
    return SeriesRead(volume, datasets, identity)
