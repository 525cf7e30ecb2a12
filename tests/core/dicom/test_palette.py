"""Segmented palette colour LUTs are expanded as pydicom expands them, into the ordinary tables their descriptors
declare; data that would read past its end, loop, or grow past the descriptor is refused naming the attribute."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.pixels.processing import _expand_segmented_lut, apply_color_lut

from functions.common.dicom.palette import MalformedSegments, expand_segmented_lut, expand_segmented_palettes
from functions.common.dicom.validation import FailureReason, InstanceRejected, check_instance, parse_part10
from tests.support.real_world import part10, sample, segmented, segmented_palette

COLOURS = ("Red", "Green", "Blue")


def pydicoms(data: bytes, bits: int) -> list[int]:
    """pydicom's own expansion of little endian segmented data (what its apply_color_lut uses)."""
    fmt = f"<{len(data) // (bits // 8)}{'B' if bits == 8 else 'H'}"
    return _expand_segmented_lut(struct.unpack(fmt, data[: struct.calcsize(fmt)]), fmt)


def ours(segments: list[tuple], bits: int, entries: int = 65536) -> list[int]:
    return expand_segmented_lut(segmented(segments, bits), bits, max_entries=entries).tolist()


# Hand-written tables: each kind of segment, rising and falling ramps, and indirect segments replaying earlier ones.
TABLES = {
    "discrete only": ([("discrete", [0, 7, 65535, 12])], 16),
    "rising and falling linear": ([("discrete", [0]), ("linear", 255, 65535), ("linear", 100, 3)], 16),
    "linear with rounding ties": ([("discrete", [1]), ("linear", 4, 4), ("linear", 4, 1), ("linear", 6, 10)], 16),
    "flat linear": ([("discrete", [500]), ("linear", 10, 500)], 16),
    "long ramps": ([("discrete", [0]), ("linear", 4095, 65535), ("linear", 3001, 1), ("linear", 7, 65534)], 16),
    "indirect replaying a ramp": ([("discrete", [0]), ("linear", 16, 160), ("discrete", [5]),
                                   ("indirect", 1, 3)], 16),
    "indirect replaying two segments twice": ([("discrete", [10, 20]), ("linear", 5, 70), ("indirect", 2, 0),
                                               ("linear", 3, 7), ("indirect", 2, 0)], 16),
    "8-bit ramp": ([("discrete", [0]), ("linear", 255, 255)], 8),
    "8-bit with indirect": ([("discrete", [0, 3, 9]), ("linear", 8, 200), ("indirect", 2, 0),
                             ("linear", 30, 0)], 8),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_segmented_table_expands_as_pydicom_expands_it(name):
    segments, bits = TABLES[name]
    data = segmented(segments, bits)
    expected = pydicoms(data, bits)
    lut = expand_segmented_lut(data, bits, max_entries=65536)
    assert lut.tolist() == expected
    assert lut.dtype == (np.uint8 if bits == 8 else np.uint16)


@st.composite
def segment_programs(draw, bits: int) -> list[tuple]:
    """Random tables: a discrete start, then discrete, linear and indirect segments (the indirect ones replaying a
    run of earlier segments, never themselves)."""
    # Entries from 1: pydicom refuses a replayed linear segment whose start value is 0 (its `elif last_value:`).
    value = st.integers(1, 255 if bits == 8 else 65535)
    segments: list[tuple] = [("discrete", draw(st.lists(value, min_size=1, max_size=6)))]
    starts, word = [0], len(segments[0][1]) + 2
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["discrete", "linear", "indirect"]))
        if kind == "discrete":
            segments.append(("discrete", draw(st.lists(value, min_size=1, max_size=6))))
            size = 2 + len(segments[-1][1])
        elif kind == "linear":
            segments.append(("linear", draw(st.integers(1, 40)), draw(value)))
            size = 3
        else:
            first = draw(st.integers(0, len(starts) - 1))
            run = 0  # replayed segments are not indirect ones (see the nested test below for why)
            while first + run < len(starts) and segments[first + run][0] != "indirect":
                run += 1
            if not run:
                continue
            segments.append(("indirect", draw(st.integers(1, run)), starts[first]))
            size = 4 if bits == 16 else 6
        starts.append(word)
        word += size
    return segments


@settings(max_examples=300, deadline=None)
@given(data=st.data(), bits=st.sampled_from([8, 16]))
def test_random_segmented_tables_expand_as_pydicom_expands_them(data, bits):
    segments = data.draw(segment_programs(bits))
    raw = segmented(segments, bits)
    assert expand_segmented_lut(raw, bits, max_entries=1 << 20).tolist() == pydicoms(raw, bits)


def test_an_indirect_segment_replayed_by_another_counts_its_offset_from_the_start_of_the_data():
    # PS3.3 C.7.9.2.3: the offset is from the start of the segmented data. pydicom counts a nested one from the
    # start of the replayed run instead, so this case is checked by hand.
    segments = [("discrete", [10, 20]), ("linear", 2, 40), ("indirect", 1, 0), ("indirect", 2, 4)]
    #            words 0-3               4-6                7-10                 11-14: replays 4 and 7
    assert ours(segments, 16) == [10, 20, 30, 40, 10, 20, 30, 40, 10, 20]


# ------------------------------------------------------------------------------------------------ refused


@pytest.mark.parametrize("segments, complaint", [
    ([("discrete", [1, 2]), (7, 1, 1)], "has type 7"),
    ([(0, 9, 1, 2)], "has 9 entries but only 2 words remain"),
    ([("linear", 4, 100)], "no entry before it"),
    ([("indirect", 1, 0)], "nothing to repeat"),
    ([("discrete", [1]), ("indirect", 1, 3)], "repeats itself"),
    ([("discrete", [1]), ("indirect", 1, 7), ("indirect", 1, 3)], "repeats itself"),  # 3 replays 7, 7 replays 3
    ([("discrete", [1]), ("indirect", 1, 900)], "past the data's end"),
    ([("discrete", [1]), (1, 3)], "past the end of the data"),
], ids=["unknown type", "discrete past the end", "linear first", "indirect first", "indirect loop",
        "indirect into a loop", "indirect past the end", "linear without its end value"])
def test_malformed_segments_are_refused_saying_why(segments, complaint):
    with pytest.raises(MalformedSegments, match=complaint):
        expand_segmented_lut(segmented(segments), 16, max_entries=65536)


def test_a_table_longer_than_the_descriptor_is_refused_before_it_grows():
    data = segmented([("discrete", [0]), ("linear", 255, 255)])
    with pytest.raises(MalformedSegments, match="past the descriptor's 200 entries"):
        expand_segmented_lut(data, 16, max_entries=200)


def test_replays_of_replays_are_stopped_by_the_segment_budget():
    # Pairs of indirect segments, each replaying the pair before: 2^40 empty segments, no output to cap them.
    segments: list[tuple] = [("discrete", [1]), ("discrete", []), ("discrete", [])]  # the first pair at word 3
    for level in range(1, 41):
        previous_pair = 3 if level == 1 else 7 + 8 * (level - 2)
        segments += [("indirect", 2, previous_pair)] * 2
    with pytest.raises(MalformedSegments, match="more than"):
        expand_segmented_lut(segmented(segments), 16, max_entries=65536)


def test_a_chain_of_indirect_segments_is_refused_before_it_exhausts_the_stack():
    # Each indirect segment replays the next one: 2000 deep, past Python's recursion limit if followed.
    count = 2000
    segments: list[tuple] = [("discrete", [1])] + [("indirect", 1, 3 + 4 * (n + 1)) for n in range(count)]
    segments.append(("discrete", [2]))
    with pytest.raises(MalformedSegments, match="replayed by more than 32 others"):
        expand_segmented_lut(segmented(segments), 16, max_entries=65536)


# -------------------------------------------------------------------------------------------- in a data set


@pytest.fixture
def palette():
    """pydicom's examples_palette.dcm with its three real 256-entry tables sent segmented."""
    return segmented_palette()


def test_a_real_palette_sent_segmented_is_stored_as_its_plain_tables(palette):
    original = sample("examples_palette.dcm")
    expected_rgb = apply_color_lut(palette.pixel_array, palette)  # pydicom's segmented path
    ds = parse_part10(part10(palette))
    check_instance(ds)
    for colour in COLOURS:
        assert f"Segmented{colour}PaletteColorLookupTableData" not in ds
        assert ds[f"{colour}PaletteColorLookupTableData"].value == original[f"{colour}PaletteColorLookupTableData"].value
        assert ds[f"{colour}PaletteColorLookupTableData"].VR == "OW"
    assert np.array_equal(apply_color_lut(ds.pixel_array, ds), expected_rgb)


def test_the_segmented_form_is_shorter_than_the_table_it_expands_to(palette):
    sizes = [len(palette[f"Segmented{c}PaletteColorLookupTableData"].value) for c in COLOURS]
    assert max(sizes) < 512  # 256 16-bit entries: the real tables are mostly ramps


def test_an_8_bit_segmented_palette_becomes_a_byte_per_entry_table(palette):
    ds = palette
    for colour in COLOURS:
        ds[f"{colour}PaletteColorLookupTableDescriptor"].value = [256, 0, 8]
        ds[f"Segmented{colour}PaletteColorLookupTableData"].value = segmented([("discrete", [0]),
                                                                               ("linear", 255, 255)], 8)
    expected = apply_color_lut(ds.pixel_array, ds)
    check_instance(ds)
    assert ds.RedPaletteColorLookupTableData == bytes(range(256))
    assert np.array_equal(apply_color_lut(ds.pixel_array, ds), expected)


def refusal(ds) -> InstanceRejected:
    with pytest.raises(InstanceRejected) as caught:
        check_instance(ds)
    return caught.value


def test_a_malformed_segmented_palette_is_refused_naming_it(palette):
    palette.SegmentedGreenPaletteColorLookupTableData = segmented([("discrete", [1]), ("indirect", 1, 3)])
    error = refusal(palette)
    assert (error.failure_reason, error.attribute) == (FailureReason.CANNOT_UNDERSTAND,
                                                       "SegmentedGreenPaletteColorLookupTableData")
    assert "loop" in error.message


def test_a_segmented_palette_shorter_than_its_descriptor_is_refused(palette):
    palette.SegmentedBluePaletteColorLookupTableData = segmented([("discrete", [0]), ("linear", 99, 9)])
    error = refusal(palette)
    assert error.attribute == "SegmentedBluePaletteColorLookupTableData"
    assert "expands to 100 entries but BluePaletteColorLookupTableDescriptor declares 256" in error.message


def test_a_table_sent_both_plain_and_segmented_is_refused(palette):
    palette.add_new("RedPaletteColorLookupTableData", "OW", bytes(512))
    error = refusal(palette)
    assert error.attribute == "SegmentedRedPaletteColorLookupTableData" and "both present" in error.message


def test_the_descriptors_are_checked_before_any_expansion(palette):
    palette.GreenPaletteColorLookupTableDescriptor = [128, 0, 16]
    assert refusal(palette).attribute == "GreenPaletteColorLookupTableDescriptor"
    assert "SegmentedGreenPaletteColorLookupTableData" in palette  # nothing changed


def test_expansion_leaves_a_data_set_without_segmented_tables_unchanged():
    ds = sample("examples_palette.dcm")
    before = part10(ds)
    expand_segmented_palettes(ds, entries=256, bits=16)
    assert part10(ds) == before
