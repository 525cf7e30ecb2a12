"""A series from the archive as a model's input, for a study its caller was authorised to read (the caller asks
the permission model, and audits the view): every instance fetched from Orthanc in parallel
(`/instances/{id}/file`, the cheapest path Orthanc 1.10 offers: see bench/series_read_bench.py), then each file's
header parsed with its pixels left where they are in the file's bytes; once the grid is known, each image is
rescaled straight into its slice of the volume, whose memory one more thread has mapped in meanwhile; the asked
attributes restored from the sealed originals exactly as the gateway restores them.

The files are parsed after the fetch, in the calling thread, not by the fetching threads as they arrive: parsing
is Python work that holds the GIL, and on 2 cores shared with Orthanc the hand-offs between threads cost more CPU
(measured: ~0.1 s on 200 slices of 512x512) than the overlap saves. A read costs about its CPU time.
"""

from __future__ import annotations

import copy
import gc
import io
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.errors import InvalidDicomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.dicom import originals
from functions.common.dicom.index import Instance, Series, Study
from functions.common.dicom.orthanc import ArchiveRefused, orthanc
from functions.common.platform.errors import NotFound
from model_builder.volume import Volume

from .assemble import build, series_layout
from .attributes import check_keywords
from .errors import SeriesUnreadable, VolumeRefused
from .pixels import parse_instance
from .planes import planes_of
from .rescale import Images, images_of, likely_dtype, touched

log = logging.getLogger(__name__)

FETCH_WORKERS = 4      # Orthanc serves files in parallel; beyond ~4 its storage plugin is the bottleneck
NO_SUCH_SERIES = "No such series or instance in this study."


@dataclass
class Timings:
    """Where a read's time went (seconds): wall-clock stages, and fetching summed over the workers."""

    index: float = 0.0      # the series' instances from the index
    transfer: float = 0.0   # wall: every instance's file fetched, in parallel
    fetch: float = 0.0      # the same, summed over the workers
    decode: float = 0.0     # wall: headers parsed, compressed pixels decoded, geometry and value ranges
    memory: float = 0.0     # wall: then waiting for the volume's memory to be mapped in (`rescale.touched`)
    layout: float = 0.0     # the grid's checks and the sort
    stack: float = 0.0      # each image rescaled straight into its slice of the volume
    attributes: float = 0.0
    total: float = 0.0
    instances: int = 0
    bytes: int = 0


def _get(orthanc_id: str, sop_uid: str, path: str) -> bytes:
    """The whole body in one read, without requests' per-call work (`OrthancClient.read`): `.content` reads 10 kB
    at a time, a round of Python per chunk that made fetching about twice as slow (bench/series_read_bench.py)."""
    try:
        return orthanc().read(f"/instances/{orthanc_id}{path}")
    except ArchiveRefused as e:
        if e.status == 404:
            raise NotFound(NO_SUCH_SERIES) from None
        raise SeriesUnreadable(sop_uid, e.status) from None


def _fetch(row: Any) -> tuple[bytes, float]:
    t0 = time.perf_counter()
    return _get(row.orthanc_id, row.sop_uid, "/file"), time.perf_counter() - t0


def _archive_decoded(row: Any, ds: Dataset) -> np.ndarray:
    """Stored values decoded by Orthanc (`/numpy`), for pixel data pydicom cannot decode here (e.g. JPEG Lossless
    without pylibjpeg)."""
    decoded = np.load(io.BytesIO(_get(row.orthanc_id, row.sop_uid, "/numpy?rescale=0")), allow_pickle=False)
    return decoded.reshape(int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns))


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the headers are parsed: they are tens of thousands of new objects that
    all live on, and collecting meanwhile made every other read of 200 slices pay a full collection of the
    process (0.08-0.16 s with ~200k objects, measured). Reference counting still frees everything as usual."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _volume_memory(pool: ThreadPoolExecutor, first: bytes, count: int) -> Future[np.ndarray] | None:
    """The volume's array, its memory mapped in by the pool while the files come and are parsed, shaped as the
    first file's header foretells (`count` instances like it); None when that header cannot say."""
    try:
        planes = planes_of(pydicom.dcmread(io.BytesIO(first), stop_before_pixels=True), 0)
    except (InvalidDicomError, VolumeRefused):
        return None  # the parse says what is wrong
    shape = (count * len(planes), planes[0].rows, planes[0].columns)
    return pool.submit(touched, shape, likely_dtype(planes[0]))


def _images(pool: ThreadPoolExecutor, rows: list[Any], files: list[bytes]) -> tuple[list[Dataset], list[Images]]:
    """Each file's header (no pixel data) and images: stored values a view of its bytes when uncompressed,
    decoded here when compressed, by Orthanc when this process cannot (those fetched by the pool)."""
    with _cyclic_gc_paused():
        parsed = [parse_instance(data) for data in files]
        undecoded = [n for n, (_, frames) in enumerate(parsed) if frames is None]
        for n, frames in zip(undecoded, pool.map(lambda n: _archive_decoded(rows[n], parsed[n][0]), undecoded),
                             strict=True):
            parsed[n] = (parsed[n][0], frames)
        return ([ds for ds, _ in parsed],
                [images_of(planes_of(ds, source), frames) for source, (ds, frames) in enumerate(parsed)])


def _transfer(rows: list[Any], spent: Timings) -> tuple[list[Dataset], list[Images], np.ndarray | None]:
    """Every instance's file fetched by FETCH_WORKERS threads, then parsed here (`_images`); the first fetched
    alone, to have the volume's memory mapped in meanwhile by one more thread (`_volume_memory`)."""
    t = time.perf_counter()
    with ThreadPoolExecutor(min(FETCH_WORKERS, len(rows)) + 1, thread_name_prefix="series-read") as pool:
        first = _fetch(rows[0])
        memory = _volume_memory(pool, first[0], len(rows))
        fetched = [first, *pool.map(_fetch, rows[1:])]
        spent.transfer, t = time.perf_counter() - t, time.perf_counter()
        files = [data for data, _ in fetched]
        spent.fetch, spent.instances, spent.bytes = sum(s for _, s in fetched), len(files), sum(map(len, files))
        datasets, images = _images(pool, rows, files)
        spent.decode, t = time.perf_counter() - t, time.perf_counter()
        volume = memory.result() if memory is not None else None
        spent.memory = time.perf_counter() - t
        return datasets, images, volume


def _instances(db: Session, study: Study, series_uid: str) -> list[Any]:
    rows = db.execute(select(Instance.sop_uid, Instance.orthanc_id, Instance.originals_enc).join(Series)
                      .where(Series.study_pk == study.id, Series.series_uid == series_uid)).all()
    if not rows:
        raise NotFound(NO_SUCH_SERIES)
    return list(rows)


@dataclass(frozen=True)
class SeriesRead:
    """A series read for a model: its Volume, its instances' headers as the archive holds them (pseudonymised,
    without their pixel data: what a result references), and the study's identity (the first slice's originals)
    to put back into a result."""

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
    spent.index = time.perf_counter() - start
    datasets, images, memory = _transfer(rows, spent)
    t = time.perf_counter()
    grid = series_layout(datasets, [of_instance.planes for of_instance in images])
    spent.layout, t = time.perf_counter() - t, time.perf_counter()
    first = rows[grid.first.source]
    identity = originals.open_sealed(originals.study_key(study), first.originals_enc, study_uid=study.study_uid,
                                     sop_uid=first.sop_uid)
    spent.attributes = time.perf_counter() - t

    volume = build(datasets, images, grid, attributes=keywords, out=memory,  # a copy restored: sources stay archived
                   restore=lambda ds: originals.restore_dataset(copy.deepcopy(ds), identity))
    spent.stack = time.perf_counter() - t - spent.attributes
    spent.total = time.perf_counter() - start
    log.info("series read", extra={"instances": spent.instances, "seconds": round(spent.total, 3)})
    return SeriesRead(volume, datasets, identity)
