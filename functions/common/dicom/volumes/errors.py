"""Why a series cannot be a model's input: each error carries what was found and says how to fix it."""

from __future__ import annotations

from collections.abc import Sequence

from functions.common.platform.errors import ApiError


class VolumeRefused(ApiError):
    """Root of the refusals: the series (or the attributes asked of it) cannot be one `Volume`."""

    status, code, title = 422, "not_a_volume", "Series is not a volume"


class NotARegularGrid(VolumeRefused):
    """The slices do not form one regular grid; `reason` is a stable name of the problem, `detail` the specifics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"The series is not one regular grid of slices: {detail}")
        self.reason = reason


class CannotDecode(VolumeRefused):
    """Pixel data this process cannot decode: the transfer syntax and the decoder packages it lacks."""

    code = "cannot_decode"

    def __init__(self, transfer_syntax: str, missing: Sequence[str] = (), why: str = "") -> None:
        hint = ("; install one of: " + ", ".join(missing)) if missing else ""
        super().__init__(f"Cannot decode pixel data in {transfer_syntax}{': ' + why if why else ''}{hint}.")
        self.transfer_syntax, self.missing = transfer_syntax, list(missing)


class UnknownAttributes(VolumeRefused):
    """Asked-for attributes that are not DICOM keywords (a typo, or a tag number instead of its keyword)."""

    code = "unknown_attributes"

    def __init__(self, keywords: Sequence[str]) -> None:
        super().__init__(f"Not DICOM keywords: {', '.join(keywords)}; name attributes by their keyword, "
                         "e.g. PatientAge or SliceThickness.",
                         errors=[{"field": "attributes", "message": f"{k} is not a DICOM keyword"} for k in keywords])
        self.keywords = list(keywords)


class MissingAttributes(VolumeRefused):
    """Asked-for attributes the series does not carry (or carries empty)."""

    code = "missing_attributes"

    def __init__(self, keywords: Sequence[str]) -> None:
        super().__init__(f"The series has no value for {', '.join(keywords)}; run the model on a series that "
                         "has them, or stop asking for them in the task's inputs.",
                         errors=[{"field": k, "message": "absent from the series"} for k in keywords])
        self.keywords = list(keywords)


class SeriesUnreadable(ApiError):
    """The image archive did not give an instance the index lists (404: the two disagree; else it failed)."""

    status, code, title = 502, "archive_error", "Archive error"

    def __init__(self, sop_uid: str, status: int) -> None:
        super().__init__(f"The image archive could not give instance {sop_uid} of this series (HTTP {status}); "
                         "try again, or ask an administrator to check the archive against the study index.")
        self.sop_uid, self.archive_status = sop_uid, status
