"""Checks of the Image Pixel module before Orthanc decodes anything: geometry within the standard's
ranges and the configured limits, native pixel data of exactly the declared length, encapsulated
fragments and offset tables that agree and stay inside PixelData, and palette colour lookup tables
of the declared size (PS3.3 C.7.6.3, PS3.5 8 and A.4); segmented palettes are expanded (`palette`).

A video (MPEG-2, MPEG-4 AVC, HEVC) is one stream for all NumberOfFrames frames, in as many fragments as its
sender chose: its fragments are walked and bounded like any other, its Basic Offset Table must be empty
(PS3.5 A.4: frames are not addressable in a stream), and the stream itself is not parsed: its codec, profile,
level and frame count are taken on trust (Orthanc stores it and never decodes it)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from itertools import pairwise

from pydicom import Dataset
from pydicom.encaps import parse_basic_offsets
from pydicom.multival import MultiValue
from pydicom.uid import UID

from functions.common.dicom.palette import expand_segmented_palettes
from functions.common.dicom.refusal import FailureReason, InstanceRejected, attribute_value, integer, mismatch
from functions.common.dicom.syntaxes import VIDEO_TRANSFER_SYNTAXES

MAX_FRAGMENTS_PER_FRAME = 64
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_SAMPLES_PER_PHOTOMETRIC = {
    "MONOCHROME1": 1, "MONOCHROME2": 1, "PALETTE COLOR": 1,
    "RGB": 3, "YBR_FULL": 3, "YBR_FULL_422": 3, "YBR_PARTIAL_420": 3, "YBR_ICT": 3, "YBR_RCT": 3,
}
_COLOURS = ("Red", "Green", "Blue")
_ITEM, _SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class _PixelModule:
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    frames: int
    photometric: str

    @property
    def frame_bytes(self) -> int:
        return -(-self.rows * self.columns * self.samples * self.bits_allocated // 8)

    def native_length(self) -> int:
        """Bytes of uncompressed pixel data, as PS3.5 §8.1.1 packs them (before the odd-length pad byte)."""
        bits = self.rows * self.columns * self.samples * self.frames * self.bits_allocated
        length = -(-bits // 8)  # 1-bit pixels are packed across frame boundaries
        if self.photometric == "YBR_FULL_422":  # two chroma samples shared by each pair of pixels
            length = length // 3 * 2
        return length


def check_pixels(ds: Dataset, sop_class: UID, transfer_syntax: UID, *, max_frame_bytes: int, max_frames: int,
                 max_pixel_data_bytes: int) -> None:
    """Refuse pixel data that disagrees with its module, its transfer syntax or the limits."""
    present = [keyword for keyword in _PIXEL_KEYWORDS if keyword in ds]
    if not present:
        if "Image Storage" in sop_class.name:  # e.g. a file cut just before its PixelData
            raise mismatch("PixelData", f"PixelData is missing; {sop_class.name} instances carry pixels")
        for keyword in ("Rows", "Columns", "NumberOfFrames"):
            if keyword in ds:
                raise mismatch("PixelData", f"PixelData is missing although {keyword} is present")
        return
    if len(present) > 1:
        raise mismatch(present[1], f"{present[0]} and {present[1]} are both present; an image has one")
    keyword = present[0]
    data = attribute_value(ds, keyword)
    if not isinstance(data, bytes | bytearray):
        raise mismatch(keyword, f"{keyword} has no value")
    if len(data) > max_pixel_data_bytes:
        raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"{keyword} is {len(data)} bytes, over the limit of "
                               f"{max_pixel_data_bytes}", attribute=keyword)

    module = _pixel_module(ds, keyword)
    if module.frames > max_frames:
        raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"NumberOfFrames is {module.frames}, over the limit of "
                               f"{max_frames}", attribute="NumberOfFrames")
    if module.frame_bytes > max_frame_bytes:
        raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"Rows×Columns×SamplesPerPixel×BitsAllocated/8 = "
                               f"{module.frame_bytes} bytes per frame ({module.rows}×{module.columns}×"
                               f"{module.samples}×{module.bits_allocated}/8), over the limit of {max_frame_bytes}",
                               attribute="Rows")
    if transfer_syntax.is_encapsulated:
        if keyword != "PixelData":
            raise mismatch(keyword, f"{keyword} cannot be encapsulated; use an uncompressed transfer syntax")
        _check_encapsulated(ds, data, module.frames, max_fragments=max_frames * MAX_FRAGMENTS_PER_FRAME,
                            video=transfer_syntax in VIDEO_TRANSFER_SYNTAXES)
    else:
        _check_native_length(keyword, len(data), module)
    if module.photometric == "PALETTE COLOR" or any(f"{c}PaletteColorLookupTableDescriptor" in ds for c in _COLOURS):
        _check_palette(ds, module)


def _pixel_module(ds: Dataset, keyword: str) -> _PixelModule:
    """The Image Pixel module's geometry, each attribute present and within what the standard allows."""
    rows = integer(ds, "Rows", 1, 0xFFFF)
    columns = integer(ds, "Columns", 1, 0xFFFF)
    samples = integer(ds, "SamplesPerPixel", 1, 3)
    photometric = str(attribute_value(ds, "PhotometricInterpretation") or "").strip()
    if photometric not in _SAMPLES_PER_PHOTOMETRIC:
        raise mismatch("PhotometricInterpretation", f"PhotometricInterpretation {photometric!r} is not one of "
                        f"{', '.join(_SAMPLES_PER_PHOTOMETRIC)}")
    if samples != _SAMPLES_PER_PHOTOMETRIC[photometric]:
        raise mismatch("SamplesPerPixel", f"SamplesPerPixel is {samples} but PhotometricInterpretation "
                        f"{photometric} has {_SAMPLES_PER_PHOTOMETRIC[photometric]}")
    bits_allocated = integer(ds, "BitsAllocated", 1, 64)
    allowed_bits = {"PixelData": (1, 8, 16, 32, 64), "FloatPixelData": (32,), "DoubleFloatPixelData": (64,)}[keyword]
    if bits_allocated not in allowed_bits:
        raise mismatch("BitsAllocated", f"BitsAllocated is {bits_allocated}; {keyword} needs one of "
                        f"{', '.join(map(str, allowed_bits))}")
    if keyword == "PixelData":
        bits_stored = integer(ds, "BitsStored", 1, bits_allocated)
        integer(ds, "HighBit", bits_stored - 1, bits_allocated - 1)
        integer(ds, "PixelRepresentation", 0, 1)
    if samples > 1:
        integer(ds, "PlanarConfiguration", 0, 1)
    frames = integer(ds, "NumberOfFrames", 1, 2**31 - 1, default=1)
    return _PixelModule(rows, columns, samples, bits_allocated, frames, photometric)


def _check_native_length(keyword: str, actual: int, module: _PixelModule) -> None:
    expected = module.native_length()
    if actual == expected or (expected % 2 and actual == expected + 1):  # one pad byte makes an odd length even
        return
    how = "Rows×Columns×SamplesPerPixel×BitsAllocated/8×NumberOfFrames"
    if module.bits_allocated == 1:
        how += " rounded up to whole bytes"
    if module.photometric == "YBR_FULL_422":
        how += " ×2/3 for YBR_FULL_422"
    raise mismatch(keyword, f"{keyword} is {actual} bytes but {how} = {expected} "
                    f"({module.rows}×{module.columns}×{module.samples}×{module.bits_allocated}/8×{module.frames})")


def _check_encapsulated(ds: Dataset, data: bytes, frames: int, *, max_fragments: int, video: bool = False) -> None:
    """Frames, Basic/Extended Offset Table and fragments agree, and every fragment lies inside PixelData; a video's
    stream has no offset table and holds all its frames, however many fragments carry it."""
    try:
        offsets = parse_basic_offsets(data)
    except (ValueError, struct.error) as e:
        raise mismatch("PixelData", f"PixelData is not encapsulated as its transfer syntax requires: {e}") from e
    # pydicom's parse_fragments neither bounds the count nor checks lengths against the data, so walk them here.
    first = 8 + 4 * len(offsets)
    starts: list[int] = []
    position = first
    while position < len(data):
        if position + 8 > len(data):
            raise mismatch("PixelData", f"PixelData ends inside the item header of fragment {len(starts) + 1}")
        group, element, length = struct.unpack_from("<HHL", data, position)
        tag = group << 16 | element
        if tag == _SEQUENCE_DELIMITER:
            break
        if tag != _ITEM or length == _UNDEFINED_LENGTH:
            raise mismatch("PixelData", f"PixelData has ({group:04X},{element:04X}) length {length:#x} where "
                            f"fragment {len(starts) + 1} should start")
        if position + 8 + length > len(data):
            raise mismatch("PixelData", f"PixelData fragment {len(starts) + 1} claims {length} bytes but only "
                            f"{len(data) - position - 8} remain")
        starts.append(position - first)
        if len(starts) > max_fragments:
            raise InstanceRejected(FailureReason.OUT_OF_RESOURCES, f"PixelData has more than {max_fragments} fragments",
                                   attribute="PixelData")
        position += 8 + length
    if not starts:
        raise mismatch("PixelData", "PixelData holds no fragments")
    if video:
        _check_video_tables(ds, offsets)
        return

    table, table_keyword = offsets, "Basic Offset Table of PixelData"
    extended = attribute_value(ds, "ExtendedOffsetTable")
    if extended:
        if offsets:
            raise mismatch("ExtendedOffsetTable", "ExtendedOffsetTable is present but the Basic Offset Table is "
                            "not empty")
        if len(extended) % 8:
            raise mismatch("ExtendedOffsetTable", f"ExtendedOffsetTable is {len(extended)} bytes, not a multiple of 8")
        table = list(struct.unpack(f"<{len(extended) // 8}Q", extended))
        table_keyword = "ExtendedOffsetTable"
        lengths = attribute_value(ds, "ExtendedOffsetTableLengths") or b""
        if len(lengths) != len(extended):
            raise mismatch("ExtendedOffsetTableLengths", f"ExtendedOffsetTableLengths has {len(lengths) // 8} "
                            f"entries but ExtendedOffsetTable {len(table)}")
    if table:
        if len(table) != frames:
            raise mismatch("NumberOfFrames", f"NumberOfFrames is {frames} but the {table_keyword} lists "
                            f"{len(table)} frames")
        known = set(starts)
        if table[0] != 0 or any(b <= a for a, b in pairwise(table)) or not known.issuperset(table):
            raise mismatch("PixelData", f"the {table_keyword} has offsets that are not the starts of its fragments")
    if frames > len(starts):
        raise mismatch("NumberOfFrames", f"NumberOfFrames is {frames} but PixelData holds only {len(starts)} "
                        f"fragment{'s' if len(starts) > 1 else ''}")


def _check_video_tables(ds: Dataset, offsets: list[int]) -> None:
    """A video stream's frames have no offsets (PS3.5 A.4): a table listing some points into the middle of it."""
    if offsets:
        raise mismatch("PixelData", f"the Basic Offset Table of PixelData lists {len(offsets)} offsets; a video "
                        "stream's table is empty")
    if attribute_value(ds, "ExtendedOffsetTable"):
        raise mismatch("ExtendedOffsetTable", "ExtendedOffsetTable is present; a video stream has none")


def _check_palette(ds: Dataset, module: _PixelModule) -> None:
    """The three LUT descriptors are identical and each LUT holds exactly the entries they declare (PS3.3 C.7.6.3)."""
    descriptors: dict[str, list[int]] = {}
    for colour in _COLOURS:
        keyword = f"{colour}PaletteColorLookupTableDescriptor"
        value = attribute_value(ds, keyword)
        if value is None or value == "":
            raise mismatch(keyword, f"{keyword} is missing for PALETTE COLOR")
        if not isinstance(value, MultiValue | list) or len(value) != 3:
            raise mismatch(keyword, f"{keyword} must have 3 values (entries, first mapped value, bits)")
        # The VR may be SS; the number of entries and the bit depth are unsigned in either case.
        descriptors[colour] = [int(value[0]) & 0xFFFF, int(value[1]), int(value[2]) & 0xFFFF]
    red = descriptors["Red"]
    for colour in ("Green", "Blue"):
        if descriptors[colour] != red:
            keyword = f"{colour}PaletteColorLookupTableDescriptor"
            raise mismatch(keyword, f"{keyword} {descriptors[colour]} disagrees with "
                            f"RedPaletteColorLookupTableDescriptor {red}")
    entries, bits = red[0] or 65536, red[2]
    if bits not in (8, 16):
        raise mismatch("RedPaletteColorLookupTableDescriptor", f"RedPaletteColorLookupTableDescriptor declares "
                        f"{bits} bits per entry, not 8 or 16")
    if module.photometric == "PALETTE COLOR" and module.bits_allocated not in (8, 16):
        raise mismatch("BitsAllocated", f"BitsAllocated is {module.bits_allocated}; PALETTE COLOR needs 8 or 16")
    expand_segmented_palettes(ds, entries=entries, bits=bits)  # then checked like any sent as such
    # 16-bit entries take two bytes; 8-bit entries may be stored one per byte (padded to even) or one per word.
    allowed = {2 * entries} if bits == 16 else {entries + entries % 2, 2 * entries}
    for colour in _COLOURS:
        keyword = f"{colour}PaletteColorLookupTableData"
        data = attribute_value(ds, keyword)
        if data is None:
            raise mismatch(keyword, f"{keyword} is missing for PALETTE COLOR")
        if len(data) not in allowed:
            raise mismatch(keyword, f"{keyword} is {len(data)} bytes but {colour}PaletteColorLookupTableDescriptor "
                            f"declares {entries} entries of {bits} bits ({max(allowed)} bytes)")
