"""Reading from the archive for the gateway's services: Orthanc's successful answer, or the platform's own
problem. A 404 becomes the service's "no such …", a 400 what the service says it means for its request,
anything else a 502; an archive that does not answer is a 503 with Retry-After (`ArchiveUnavailable`).
Orthanc's error bodies are never read, so nothing of them (URIs, error codes, messages) reaches a client."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import requests

from functions.common.dicom.orthanc import ArchiveRefused, orthanc
from functions.common.platform.errors import ApiError, NotFound


class ArchiveFailed(ApiError):
    status, code, title = 502, "archive_error", "Archive error"


def read(path: str, *, accept: str, missing: str, refused: Callable[[], ApiError] | None = None,
         params: Sequence[tuple[str, str]] = (), stream: bool = False) -> requests.Response:
    """GET `path` from Orthanc; `missing` is the 404's detail, `refused` makes the problem for a 400."""
    try:
        return orthanc().request("GET", path, headers={"Accept": accept}, params=params, stream=stream)
    except ArchiveRefused as e:
        if e.status == 404:
            raise NotFound(missing) from None
        if e.status == 400 and refused is not None:
            raise refused() from None
        raise ArchiveFailed("The image archive could not answer this request; try again, or quote the "
                            "request id.") from None
