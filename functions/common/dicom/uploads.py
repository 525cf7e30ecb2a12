"""An ingest's calls to the archive: storing instances (from its upload threads), checking one is there, and
taking one out again. Once a store finds the archive down, the request's stores still queued are not sent
(`NotSent`: the archive cannot hold them), and a removal the archive cannot take is noted as a stray."""

from __future__ import annotations

import threading

from functions.common.dicom import strays
from functions.common.dicom.orthanc import ArchiveRefused, ArchiveUnavailable, orthanc


class NotSent(ArchiveUnavailable):
    """A store never sent: another store of the same request had just found the archive down."""


def store(data: bytes, archive_down: threading.Event) -> tuple[str, bool]:
    """Store one instance: its id in the archive, and whether this call created it; sets `archive_down` when the
    archive does not answer, and sends nothing once it is set."""
    if archive_down.is_set():
        raise NotSent()
    try:
        return orthanc().store_instance(data)
    except ArchiveUnavailable:
        archive_down.set()
        raise


def held(archive_id: str) -> bool:
    """Whether the archive holds the instance now (an archive that does not say: no)."""
    try:
        return orthanc().has_instance(archive_id)
    except (ArchiveUnavailable, ArchiveRefused):
        return False


def remove(archive_id: str, sop_uid: str) -> None:
    """Take an unindexed upload out of the archive again; if the archive is down it is noted as a stray (never
    served meanwhile: every read goes through the index) and removed by a later ingest."""
    try:
        orthanc().delete_instance(archive_id)
    except ArchiveUnavailable:
        strays.note(archive_id, sop_uid)
