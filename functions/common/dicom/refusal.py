"""Why an instance is refused: the STOW-RS failure reasons, the refusal itself, and reading attributes so
that a value pydicom cannot decode, a missing one or one out of range is a refusal naming the attribute."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pydicom import Dataset
from pydicom.multival import MultiValue


class FailureReason(IntEnum):
    """Failure Reason (0008,1197) of a STOW-RS response (PS3.18 Table I.2-2, from PS3.4 Annex B C-STORE)."""

    PROCESSING_FAILURE = 0x0110
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NOT_AUTHORIZED = 0x0124
    OUT_OF_RESOURCES = 0xA700
    DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900
    CANNOT_UNDERSTAND = 0xC000
    TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122


class InstanceRejected(Exception):
    """An instance the gateway will not store: `failure_reason` for the STOW response, `message` for people;
    `retry` when nothing was wrong with it (the archive was busy or down) and sending it again may work."""

    def __init__(self, failure_reason: int, message: str, *, attribute: str | None = None,
                 retry: bool = False) -> None:
        super().__init__(f"{message} (failure reason 0x{failure_reason:04X})")
        self.failure_reason = failure_reason
        self.message = message
        self.attribute = attribute
        self.retry = retry


def attribute_value(ds: Dataset, keyword: str) -> Any:
    """The attribute's value, or None; a value pydicom cannot decode is a reason to refuse, naming it."""
    try:
        return ds.get(keyword)
    except Exception as e:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"{keyword} cannot be decoded: {e}",
                               attribute=keyword) from e


def integer(ds: Dataset, keyword: str, low: int, high: int, *, default: int | None = None) -> int:
    """A single integer attribute within low..high (or `default` when absent)."""
    value = attribute_value(ds, keyword)
    if value is None or value == "":
        if default is not None:
            return default
        raise mismatch(keyword, f"{keyword} is missing")
    if isinstance(value, MultiValue | list):
        raise mismatch(keyword, f"{keyword} has {len(value)} values, expected one")
    try:
        number = int(value)
    except (TypeError, ValueError) as e:
        raise mismatch(keyword, f"{keyword} is {value!r}, not an integer") from e
    if not low <= number <= high:
        raise mismatch(keyword, f"{keyword} is {number}, outside {low}..{high}")
    return number


def mismatch(keyword: str, message: str) -> InstanceRejected:
    """The data set contradicts itself or its SOP class, at this attribute."""
    return InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, message, attribute=keyword)
