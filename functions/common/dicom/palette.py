"""Segmented palette colour lookup tables (PS3.3 C.7.9.2) expanded into ordinary ones (PS3.3 C.7.6.3.1.6) at
ingest, so that the archive, the viewer and every later reader see the plain table its descriptor declares.

A segmented table is a little program: discrete segments (opcode 0) copy entries, linear segments (opcode 1)
interpolate from the last entry, indirect segments (opcode 2) replay earlier segments. Run unchecked it can read
past its data, loop forever or grow without bound; here each of those is a `MalformedSegments` naming why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom import Dataset

from functions.common.dicom.refusal import FailureReason, InstanceRejected, attribute_value

__all__ = ["MAX_NESTING", "MAX_STEPS_PER_ENTRY", "MalformedSegments", "expand_segmented_lut", "expand_segmented_palettes"]

DISCRETE, LINEAR, INDIRECT = 0, 1, 2
# Segments run for a table, replays included: at most 2 per entry its descriptor declares plus 1 per word of data
# (for empty segments). n indirect segments replaying each other in pairs would otherwise run 2^n segments.
MAX_STEPS_PER_ENTRY = 2
MAX_NESTING = 32  # indirect segments replaying indirect segments: far beyond any real table, far below the stack


class MalformedSegments(ValueError):
    """The segmented data cannot be expanded safely; the message says where and why."""


@dataclass
class _Run:
    """The state of one expansion: the data's words, the table built so far and the limits it runs under."""

    words: np.ndarray
    max_entries: int
    lut: list[int]
    steps: int = 0

    @property
    def max_steps(self) -> int:
        return MAX_STEPS_PER_ENTRY * self.max_entries + len(self.words)

    def word(self, at: int, what: str) -> int:
        if at >= len(self.words):
            raise MalformedSegments(f"the {what} at word {at} lies past the end of the data ({len(self.words)} words)")
        return int(self.words[at])

    def grow(self, values: list[int] | np.ndarray, at: int) -> None:
        if len(self.lut) + len(values) > self.max_entries:
            raise MalformedSegments(f"the segment at word {at} expands the table past the descriptor's "
                                    f"{self.max_entries} entries")
        self.lut.extend(int(v) for v in values)


def expand_segmented_lut(data: bytes, bits: int, *, max_entries: int) -> np.ndarray:
    """The table that little endian segmented LUT data of 8- or 16-bit words expands to (at most `max_entries`).

    An indirect segment's offset counts words from the start of the data (as pydicom and GDCM read it); a linear
    segment rounds half to even, as pydicom does, so both give the same table.
    """
    if bits not in (8, 16):
        raise MalformedSegments(f"segmented tables have 8- or 16-bit entries, not {bits}")
    words = np.frombuffer(data[: len(data) - len(data) % (bits // 8)], dtype="<u1" if bits == 8 else "<u2")
    run = _Run(words, max_entries, [])
    _segments(run, 0, None, active=())
    return np.asarray(run.lut, dtype=np.uint8 if bits == 8 else np.uint16)


def _segments(run: _Run, start: int, count: int | None, *, active: tuple[int, ...]) -> None:
    """Run `count` segments from word `start` (all of them up to the data's end when None)."""
    at, done = start, 0
    while (count is None and at + 1 < len(run.words)) or (count is not None and done < count):
        run.steps += 1
        if run.steps > run.max_steps:
            raise MalformedSegments(f"expanding the table takes more than {run.max_steps} segments")
        opcode, length = run.word(at, "segment type"), run.word(at + 1, "segment length")
        if opcode == DISCRETE:
            if at + 2 + length > len(run.words):
                raise MalformedSegments(f"the discrete segment at word {at} has {length} entries but only "
                                        f"{len(run.words) - at - 2} words remain")
            run.grow(run.words[at + 2: at + 2 + length], at)
            at += 2 + length
        elif opcode == LINEAR:
            if not run.lut:
                raise MalformedSegments(f"the linear segment at word {at} has no entry before it to start from")
            run.grow(_ramp(run.lut[-1], run.word(at + 2, "linear segment's end value"), length), at)
            at += 3
        elif opcode == INDIRECT:
            _indirect(run, at, length, bits16=run.words.dtype.itemsize == 2, active=active)
            at += 4 if run.words.dtype.itemsize == 2 else 6
        else:
            raise MalformedSegments(f"the segment at word {at} has type {opcode}; types are 0, 1 and 2")
        done += 1


def _ramp(y0: int, y1: int, length: int) -> list[int]:
    """The `length` entries after y0 up to y1 (PS3.3 C.7.9.2.2), computed as pydicom's
    `np.around(np.linspace(y0 + step, y1, length))` computes them, float for float, without numpy's per-call cost."""
    if y0 == y1 or length == 0:
        return [y1] * length
    start = y0 + (y1 - y0) / length
    if length == 1:
        return [round(start)]
    step = (y1 - start) / (length - 1)
    return [*(round(k * step + start) for k in range(length - 1)), y1]  # round: half to even, as np.around


def _indirect(run: _Run, at: int, count: int, *, bits16: bool, active: tuple[int, ...]) -> None:
    """Replay `count` segments from the offset the indirect segment at word `at` names."""
    if not run.lut:
        raise MalformedSegments(f"the indirect segment at word {at} comes first: there is nothing to repeat")
    if at in active:
        raise MalformedSegments(f"the indirect segment at word {at} repeats itself (a loop)")
    if len(active) >= MAX_NESTING:
        raise MalformedSegments(f"the indirect segment at word {at} is replayed by more than {MAX_NESTING} others")
    if bits16:  # PS3.3 C.7.9.2.3: the 32-bit offset as two words, least significant first
        offset = run.word(at + 2, "indirect offset") | run.word(at + 3, "indirect offset") << 16
    else:
        offset = int.from_bytes(bytes(run.word(at + 2 + n, "indirect offset") for n in range(4)), "little")
    if offset >= len(run.words):
        raise MalformedSegments(f"the indirect segment at word {at} points to word {offset}, past the data's end")
    _segments(run, offset, count, active=(*active, at))


def expand_segmented_palettes(ds: Dataset, *, entries: int, bits: int) -> None:
    """Replace each Segmented{Red,Green,Blue}PaletteColorLookupTableData of `ds` with the ordinary table it expands
    to, which must hold exactly `entries` entries of `bits` bits (the descriptors, checked before)."""
    for colour in ("Red", "Green", "Blue"):
        keyword = f"Segmented{colour}PaletteColorLookupTableData"
        data = attribute_value(ds, keyword)
        if data is None:
            continue
        plain = f"{colour}PaletteColorLookupTableData"
        if plain in ds:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, f"{keyword} and {plain} are "
                                   "both present; send one of them", attribute=keyword)
        try:
            lut = expand_segmented_lut(bytes(data), bits, max_entries=entries)
        except MalformedSegments as e:
            raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"{keyword} cannot be expanded: {e}",
                                   attribute=keyword) from e
        if len(lut) != entries:
            raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, f"{keyword} expands to "
                                   f"{len(lut)} entries but {colour}PaletteColorLookupTableDescriptor declares "
                                   f"{entries}", attribute=keyword)
        raw = lut.astype("<u2" if bits == 16 else "u1").tobytes()
        ds.add_new(plain, "OW", raw + b"\0" * (len(raw) % 2))
        del ds[keyword]
