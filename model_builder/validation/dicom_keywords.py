"""Which DICOM keywords a task may declare as `inputs`, and a placeholder value of each one's kind for the smoke run.

Any keyword of pydicom's data dictionary is allowed unless its value is bulk data (pixels, blobs, sequences,
delimiters): a model receives the pixels as `volume.array`, and the platform sends attributes as plain values.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_dict

from ..errors import InputError

# The platform's reader refuses the same (functions/common/dicom/volumes/attributes.py); NONE marks delimiters.
BULK_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UN", "NONE")
_NUMBERS = {"FL": 1.0, "FD": 1.0, "DS": 1.0, "IS": 1, "SL": 1, "SS": 1, "SV": 1, "UL": 1, "US": 1, "UV": 1,
            "AT": 0x00100010}
_UNKNOWN_HINT = "use a keyword of the DICOM data dictionary (PS3.6), e.g. 'PatientAge'"
_TEXTS = {"AS": "054Y", "DA": "20240101", "DT": "20240101120000", "TM": "120000", "UI": "2.25.1",
          "PN": "SYNTHETIC^PATIENT"}


@functools.cache
def _by_lower_case() -> dict[str, str]:
    return {keyword.lower(): keyword for keyword in keyword_dict if keyword}


def vr_of(keyword: str) -> str | None:
    """The keyword's value representation as pydicom's dictionary writes it ("DS", "OB or OW"), None if unknown."""
    tag = keyword_dict.get(keyword) if keyword else None
    return dictionary_VR(tag) if tag is not None else None


def suggestion(keyword: str) -> str | None:
    """The dictionary keyword `keyword` most likely meant (same letters in another case, or a close spelling)."""
    known = _by_lower_case()
    if keyword.lower() in known:
        return known[keyword.lower()]
    close = difflib.get_close_matches(keyword.lower(), list(known), n=1, cutoff=0.8)
    return known[close[0]] if close else None


def keyword_problem(keyword: str) -> str | None:
    """Why `keyword` cannot be a task's input, saying how to fix it; None when the platform can send it."""
    vr = vr_of(keyword)
    if vr is None:
        close = suggestion(keyword)
        hint = f"did you mean {close!r}?" if close else _UNKNOWN_HINT
        return f"{keyword!r} is not a DICOM attribute keyword: {hint}"
    bulk = {part for part in vr.split(" or ") if part in BULK_VRS}
    if "SQ" in bulk:
        return (f"{keyword!r} is a sequence (VR SQ): the platform sends attributes of plain values only (text,"
                " numbers, dates); declare those instead")
    if "NONE" in bulk:
        return f"{keyword!r} is an item or sequence delimiter, not an attribute: remove it"
    if bulk:
        return (f"{keyword!r} is bulk data (VR {vr}): the model already receives the pixels as volume.array;"
                " declare only attributes of plain values (text, numbers, dates)")
    return None


def placeholder(keyword: str) -> Any:
    """A value of the keyword's kind: a number for numeric VRs, text in the VR's format otherwise (a list when the
    attribute always holds several values, e.g. PixelSpacing)."""
    if vr_of(keyword) is None:
        raise InputError("inputs", f"{keyword!r} is not a DICOM attribute keyword")
    tag = keyword_dict[keyword]
    vr = dictionary_VR(tag).split(" or ")[0]
    value = _NUMBERS.get(vr, _TEXTS.get(vr, "SYNTHETIC"))
    least = re.match(r"\d+", dictionary_VM(tag))
    count = int(least.group()) if least else 1
    return [value] * count if count > 1 else value
