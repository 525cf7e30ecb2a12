"""The DICOM attributes a model asked for, by keyword, as plain Python values (text, numbers, lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom import DataElement, Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from .errors import MissingAttributes, UnknownAttributes

BULK_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UN")  # pixels, blobs and sequences are not attributes


def check_keywords(keywords: Sequence[str]) -> list[str]:
    """The keywords asked for, refusing any that is not a DICOM keyword of a plain (non-bulk) attribute."""
    wrong = [k for k in keywords if not isinstance(k, str) or tag_for_keyword(k) is None
             or any(vr in dictionary_VR(tag_for_keyword(k)) for vr in BULK_VRS)]  # e.g. PixelData: "OB or OW"
    if wrong:
        raise UnknownAttributes([str(k) for k in wrong])
    return list(dict.fromkeys(keywords))


def _plain(value: Any) -> Any:
    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, float):
        return float(value)  # DSfloat → float
    if isinstance(value, int):
        return int(value)    # IS → int
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _value(element: DataElement | None) -> Any:
    if element is None or element.value is None or element.value == "" or element.value == []:
        return None
    return _plain(element.value)


def pick(ds: Dataset, keywords: Sequence[str]) -> dict[str, Any]:
    """The keywords' values in `ds`; `MissingAttributes` names every one absent or empty."""
    values = {k: _value(ds[k] if k in ds else None) for k in keywords}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise MissingAttributes(missing)
    return values
