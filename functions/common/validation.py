"""The gateway's shield: refuse an instance before Orthanc sees it when its UIDs, SOP class, transfer syntax
or pixel module are wrong or would steer Orthanc 1.10.1's decoders past the end of a buffer.

Checks run cheapest and most general first; the first problem found is reported, naming the attribute.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from io import BytesIO
from itertools import pairwise
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.encaps import parse_basic_offsets
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_preamble  # the public read_file_meta_info wants a path
from pydicom.multival import MultiValue
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    RLELossless,
)

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_MAX_PIXEL_DATA_BYTES",
    "DEFAULT_TRANSFER_SYNTAXES",
    "FailureReason",
    "InstanceRejected",
    "check_instance",
    "parse_part10",
]


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
    """An instance the gateway will not store: `failure_reason` for the STOW response, `message` for people."""

    def __init__(self, failure_reason: int, message: str, *, attribute: str | None = None) -> None:
        super().__init__(f"{message} (failure reason 0x{failure_reason:04X})")
        self.failure_reason = failure_reason
        self.message = message
        self.attribute = attribute


# Uncompressed little endian and the compressions Orthanc 1.10.1 stores and decodes. Deflate is out (inflating
# untrusted input is a zip bomb) and so is big endian (retired, and pydicom cannot re-encode it).
DEFAULT_TRANSFER_SYNTAXES: frozenset[str] = frozenset({
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
})
DEFAULT_MAX_FRAME_BYTES = 64 * 2**20  # a 4096 × 4096 8-bit RGB frame fits; Orthanc decodes one frame at a time
DEFAULT_MAX_FRAMES = 10_000
DEFAULT_MAX_PIXEL_DATA_BYTES = 512 * 2**20  # the gateway's largest STOW instance
MAX_FRAGMENTS_PER_FRAME = 64

_REASON = FailureReason
_REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_UID_COMPONENT = re.compile(r"[0-9]+")
_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."  # PS3.4 Annex B: the Storage Service Class's SOP classes
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_SAMPLES_PER_PHOTOMETRIC = {
    "MONOCHROME1": 1, "MONOCHROME2": 1, "PALETTE COLOR": 1,
    "RGB": 3, "YBR_FULL": 3, "YBR_FULL_422": 3, "YBR_PARTIAL_420": 3, "YBR_ICT": 3, "YBR_RCT": 3,
}
_COLOURS = ("Red", "Green", "Blue")
_ITEM, _SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_UNDEFINED_LENGTH = 0xFFFFFFFF


def parse_part10(data: bytes) -> Dataset:
    """Read a DICOM Part 10 file, refusing non-DICOM, truncated and deflated input before it costs anything."""
    if data[:2] == b"\x02\x00" and data[4:6].isalpha() and data[4:6].isupper():
        # File meta information without the 128-byte preamble and 'DICM' (pydicom writes this for
        # datasets built in memory, e.g. dicomweb-client's STOW): the same file, preamble added.
        data = bytes(128) + b"DICM" + data
    buffer = BytesIO(data)
    try:
        read_preamble(buffer, False)
        transfer_syntax = _read_file_meta_info(buffer).get("TransferSyntaxUID")
    except InvalidDicomError as e:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: no 'DICM' prefix after a "
                               "128-byte preamble") from e
    except Exception as e:  # pydicom raises many types on hostile bytes; all mean the same to the sender
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: {e}") from e
    if not isinstance(transfer_syntax, str) or not transfer_syntax:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: the file meta information has "
                               "no TransferSyntaxUID (truncated?)", attribute="TransferSyntaxUID")
    transfer_syntax = UID(transfer_syntax)
    if not transfer_syntax.is_transfer_syntax:
        raise InstanceRejected(_REASON.TRANSFER_SYNTAX_NOT_SUPPORTED, f"TransferSyntaxUID {transfer_syntax!r} is not "
                               "a known transfer syntax", attribute="TransferSyntaxUID")
    if transfer_syntax.is_deflated:  # pydicom would inflate the whole rest of the file, unbounded
        raise InstanceRejected(_REASON.TRANSFER_SYNTAX_NOT_SUPPORTED, "TransferSyntaxUID Deflated Explicit VR "
                               "Little Endian is refused: send the instance uncompressed",
                               attribute="TransferSyntaxUID")
    buffer.seek(0)
    try:
        ds = dcmread(buffer, force=False)
        _check_complete(ds, len(data))
    except InstanceRejected:
        raise
    except Exception as e:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: {e}") from e
    return ds


def _check_complete(ds: Dataset, size: int) -> None:
    """pydicom silently accepts a short last value or header; an interrupted upload must not pass."""
    if len(ds) == 0:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: no data set after the file "
                               "meta information (truncated?)")
    end: int | None = None
    for tag in ds.keys():
        element = ds.get_item(tag)
        if isinstance(element, RawDataElement) and element.length != _UNDEFINED_LENGTH:
            read = len(element.value or b"")
            if read < element.length:
                name = keyword_for_tag(tag) or str(tag)
                raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: truncated in {name}, "
                                       f"{read} of {element.length} bytes present", attribute=name)
            end = element.value_tell + element.length
        else:
            end = None  # an undefined-length value; pydicom raises itself when its delimiter is missing
    if end is not None and end < size:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: truncated, {size - end} bytes "
                               "of an incomplete element header at the end")


def check_instance(
    ds: Dataset,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_pixel_data_bytes: int = DEFAULT_MAX_PIXEL_DATA_BYTES,
    allowed_transfer_syntaxes: frozenset[str] = DEFAULT_TRANSFER_SYNTAXES,
) -> None:
    """Raise InstanceRejected unless the instance is safe and consistent enough to hand to Orthanc."""
    for keyword in _REQUIRED_UIDS:
        _check_uid(keyword, _value(ds, keyword))
    sop_class = UID(str(ds.SOPClassUID))
    if not _is_storage_sop_class(sop_class):
        name = sop_class.name or "unknown"
        raise InstanceRejected(_REASON.SOP_CLASS_NOT_SUPPORTED, f"SOPClassUID {sop_class} ({name}) is not a storage "
                               "SOP class this archive accepts", attribute="SOPClassUID")
    meta = getattr(ds, "file_meta", None) or Dataset()
    transfer_syntax = meta.get("TransferSyntaxUID")
    if not transfer_syntax:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, "TransferSyntaxUID is missing from the file meta "
                               "information", attribute="TransferSyntaxUID")
    transfer_syntax = UID(str(transfer_syntax))
    if transfer_syntax not in allowed_transfer_syntaxes:
        name = transfer_syntax.name or transfer_syntax
        raise InstanceRejected(_REASON.TRANSFER_SYNTAX_NOT_SUPPORTED, f"TransferSyntaxUID {name} is not accepted; "
                               "send uncompressed little endian, JPEG, JPEG 2000 or RLE", attribute="TransferSyntaxUID")
    _check_pixels(ds, sop_class, transfer_syntax, max_frame_bytes=max_frame_bytes, max_frames=max_frames,
                  max_pixel_data_bytes=max_pixel_data_bytes)


# -------------------------------------------------------------------------------------------------- UIDs


def _check_uid(keyword: str, value: Any) -> None:
    if value is None or value == "":
        raise _mismatch(keyword, f"{keyword} is missing")
    if isinstance(value, MultiValue | list):
        raise _mismatch(keyword, f"{keyword} has {len(value)} values, a UID has one")
    uid = str(value)
    if len(uid) > 64:
        raise _mismatch(keyword, f"{keyword} is {len(uid)} characters long, a UID has at most 64")
    for component in uid.split("."):
        if not _UID_COMPONENT.fullmatch(component):
            raise _mismatch(keyword, f"{keyword} {uid!r} is not a UID: components are digits separated by dots")
        if len(component) > 1 and component.startswith("0"):
            raise _mismatch(keyword, f"{keyword} {uid!r} is not a UID: component {component!r} has a leading zero")


def _is_storage_sop_class(uid: UID) -> bool:
    """A composite storage SOP class pydicom knows (retired ones included), not a DICOMDIR or service class."""
    return uid.startswith(_STORAGE_PREFIX) and uid.type == "SOP Class" and "Storage" in uid.name


# ------------------------------------------------------------------------------------------------ pixels


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


def _check_pixels(ds: Dataset, sop_class: UID, transfer_syntax: UID, *, max_frame_bytes: int, max_frames: int,
                  max_pixel_data_bytes: int) -> None:
    present = [keyword for keyword in _PIXEL_KEYWORDS if keyword in ds]
    if not present:
        if "Image Storage" in sop_class.name:  # e.g. a file cut just before its PixelData
            raise _mismatch("PixelData", f"PixelData is missing; {sop_class.name} instances carry pixels")
        for keyword in ("Rows", "Columns", "NumberOfFrames"):
            if keyword in ds:
                raise _mismatch("PixelData", f"PixelData is missing although {keyword} is present")
        return
    if len(present) > 1:
        raise _mismatch(present[1], f"{present[0]} and {present[1]} are both present; an image has one")
    keyword = present[0]
    data = _value(ds, keyword)
    if not isinstance(data, bytes | bytearray):
        raise _mismatch(keyword, f"{keyword} has no value")
    if len(data) > max_pixel_data_bytes:
        raise InstanceRejected(_REASON.OUT_OF_RESOURCES, f"{keyword} is {len(data)} bytes, over the limit of "
                               f"{max_pixel_data_bytes}", attribute=keyword)

    module = _pixel_module(ds, keyword)
    if module.frames > max_frames:
        raise InstanceRejected(_REASON.OUT_OF_RESOURCES, f"NumberOfFrames is {module.frames}, over the limit of "
                               f"{max_frames}", attribute="NumberOfFrames")
    if module.frame_bytes > max_frame_bytes:
        raise InstanceRejected(_REASON.OUT_OF_RESOURCES, f"Rows×Columns×SamplesPerPixel×BitsAllocated/8 = "
                               f"{module.frame_bytes} bytes per frame ({module.rows}×{module.columns}×"
                               f"{module.samples}×{module.bits_allocated}/8), over the limit of {max_frame_bytes}",
                               attribute="Rows")
    if transfer_syntax.is_encapsulated:
        if keyword != "PixelData":
            raise _mismatch(keyword, f"{keyword} cannot be encapsulated; use an uncompressed transfer syntax")
        _check_encapsulated(ds, data, module.frames, max_fragments=max_frames * MAX_FRAGMENTS_PER_FRAME)
    else:
        _check_native_length(keyword, len(data), module)
    if module.photometric == "PALETTE COLOR" or any(f"{c}PaletteColorLookupTableDescriptor" in ds for c in _COLOURS):
        _check_palette(ds, module)


def _pixel_module(ds: Dataset, keyword: str) -> _PixelModule:
    """The Image Pixel module's geometry, each attribute present and within what the standard allows."""
    rows = _int(ds, "Rows", 1, 0xFFFF)
    columns = _int(ds, "Columns", 1, 0xFFFF)
    samples = _int(ds, "SamplesPerPixel", 1, 3)
    photometric = str(_value(ds, "PhotometricInterpretation") or "").strip()
    if photometric not in _SAMPLES_PER_PHOTOMETRIC:
        raise _mismatch("PhotometricInterpretation", f"PhotometricInterpretation {photometric!r} is not one of "
                        f"{', '.join(_SAMPLES_PER_PHOTOMETRIC)}")
    if samples != _SAMPLES_PER_PHOTOMETRIC[photometric]:
        raise _mismatch("SamplesPerPixel", f"SamplesPerPixel is {samples} but PhotometricInterpretation "
                        f"{photometric} has {_SAMPLES_PER_PHOTOMETRIC[photometric]}")
    bits_allocated = _int(ds, "BitsAllocated", 1, 64)
    allowed_bits = {"PixelData": (1, 8, 16, 32, 64), "FloatPixelData": (32,), "DoubleFloatPixelData": (64,)}[keyword]
    if bits_allocated not in allowed_bits:
        raise _mismatch("BitsAllocated", f"BitsAllocated is {bits_allocated}; {keyword} needs one of "
                        f"{', '.join(map(str, allowed_bits))}")
    if keyword == "PixelData":
        bits_stored = _int(ds, "BitsStored", 1, bits_allocated)
        _int(ds, "HighBit", bits_stored - 1, bits_allocated - 1)
        _int(ds, "PixelRepresentation", 0, 1)
    if samples > 1:
        _int(ds, "PlanarConfiguration", 0, 1)
    frames = _int(ds, "NumberOfFrames", 1, 2**31 - 1, default=1)
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
    raise _mismatch(keyword, f"{keyword} is {actual} bytes but {how} = {expected} "
                    f"({module.rows}×{module.columns}×{module.samples}×{module.bits_allocated}/8×{module.frames})")


def _check_encapsulated(ds: Dataset, data: bytes, frames: int, *, max_fragments: int) -> None:
    """Frames, Basic/Extended Offset Table and fragments agree, and every fragment lies inside PixelData."""
    try:
        offsets = parse_basic_offsets(data)
    except (ValueError, struct.error) as e:
        raise _mismatch("PixelData", f"PixelData is not encapsulated as its transfer syntax requires: {e}") from e
    # pydicom's parse_fragments neither bounds the count nor checks lengths against the data, so walk them here.
    first = 8 + 4 * len(offsets)
    starts: list[int] = []
    position = first
    while position < len(data):
        if position + 8 > len(data):
            raise _mismatch("PixelData", f"PixelData ends inside the item header of fragment {len(starts) + 1}")
        group, element, length = struct.unpack_from("<HHL", data, position)
        tag = group << 16 | element
        if tag == _SEQUENCE_DELIMITER:
            break
        if tag != _ITEM or length == _UNDEFINED_LENGTH:
            raise _mismatch("PixelData", f"PixelData has ({group:04X},{element:04X}) length {length:#x} where "
                            f"fragment {len(starts) + 1} should start")
        if position + 8 + length > len(data):
            raise _mismatch("PixelData", f"PixelData fragment {len(starts) + 1} claims {length} bytes but only "
                            f"{len(data) - position - 8} remain")
        starts.append(position - first)
        if len(starts) > max_fragments:
            raise InstanceRejected(_REASON.OUT_OF_RESOURCES, f"PixelData has more than {max_fragments} fragments",
                                   attribute="PixelData")
        position += 8 + length
    if not starts:
        raise _mismatch("PixelData", "PixelData holds no fragments")

    table, table_keyword = offsets, "Basic Offset Table of PixelData"
    extended = _value(ds, "ExtendedOffsetTable")
    if extended:
        if offsets:
            raise _mismatch("ExtendedOffsetTable", "ExtendedOffsetTable is present but the Basic Offset Table is "
                            "not empty")
        if len(extended) % 8:
            raise _mismatch("ExtendedOffsetTable", f"ExtendedOffsetTable is {len(extended)} bytes, not a multiple of 8")
        table = list(struct.unpack(f"<{len(extended) // 8}Q", extended))
        table_keyword = "ExtendedOffsetTable"
        lengths = _value(ds, "ExtendedOffsetTableLengths") or b""
        if len(lengths) != len(extended):
            raise _mismatch("ExtendedOffsetTableLengths", f"ExtendedOffsetTableLengths has {len(lengths) // 8} "
                            f"entries but ExtendedOffsetTable {len(table)}")
    if table:
        if len(table) != frames:
            raise _mismatch("NumberOfFrames", f"NumberOfFrames is {frames} but the {table_keyword} lists "
                            f"{len(table)} frames")
        known = set(starts)
        if table[0] != 0 or any(b <= a for a, b in pairwise(table)) or not known.issuperset(table):
            raise _mismatch("PixelData", f"the {table_keyword} has offsets that are not the starts of its fragments")
    if frames > len(starts):
        raise _mismatch("NumberOfFrames", f"NumberOfFrames is {frames} but PixelData holds only {len(starts)} "
                        f"fragment{'s' if len(starts) > 1 else ''}")


def _check_palette(ds: Dataset, module: _PixelModule) -> None:
    """The three LUT descriptors are identical and each LUT holds exactly the entries they declare (PS3.3 C.7.6.3)."""
    descriptors: dict[str, list[int]] = {}
    for colour in _COLOURS:
        keyword = f"{colour}PaletteColorLookupTableDescriptor"
        value = _value(ds, keyword)
        if value is None or value == "":
            raise _mismatch(keyword, f"{keyword} is missing for PALETTE COLOR")
        if not isinstance(value, MultiValue | list) or len(value) != 3:
            raise _mismatch(keyword, f"{keyword} must have 3 values (entries, first mapped value, bits)")
        # The VR may be SS; the number of entries and the bit depth are unsigned in either case.
        descriptors[colour] = [int(value[0]) & 0xFFFF, int(value[1]), int(value[2]) & 0xFFFF]
    red = descriptors["Red"]
    for colour in ("Green", "Blue"):
        if descriptors[colour] != red:
            keyword = f"{colour}PaletteColorLookupTableDescriptor"
            raise _mismatch(keyword, f"{keyword} {descriptors[colour]} disagrees with "
                            f"RedPaletteColorLookupTableDescriptor {red}")
    entries, bits = red[0] or 65536, red[2]
    if bits not in (8, 16):
        raise _mismatch("RedPaletteColorLookupTableDescriptor", f"RedPaletteColorLookupTableDescriptor declares "
                        f"{bits} bits per entry, not 8 or 16")
    if module.photometric == "PALETTE COLOR" and module.bits_allocated not in (8, 16):
        raise _mismatch("BitsAllocated", f"BitsAllocated is {module.bits_allocated}; PALETTE COLOR needs 8 or 16")
    # 16-bit entries take two bytes; 8-bit entries may be stored one per byte (padded to even) or one per word.
    allowed = {2 * entries} if bits == 16 else {entries + entries % 2, 2 * entries}
    for colour in _COLOURS:
        keyword = f"{colour}PaletteColorLookupTableData"
        data = _value(ds, keyword)
        if data is None:
            if f"Segmented{keyword}" in ds:
                raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"Segmented{keyword} is not accepted; send "
                                       f"{keyword}", attribute=f"Segmented{keyword}")
            raise _mismatch(keyword, f"{keyword} is missing for PALETTE COLOR")
        if len(data) not in allowed:
            raise _mismatch(keyword, f"{keyword} is {len(data)} bytes but {colour}PaletteColorLookupTableDescriptor "
                            f"declares {entries} entries of {bits} bits ({max(allowed)} bytes)")


# ------------------------------------------------------------------------------------------------ values


def _value(ds: Dataset, keyword: str) -> Any:
    """The attribute's value, or None; a value pydicom cannot decode is a reason to refuse, naming it."""
    try:
        return ds.get(keyword)
    except Exception as e:
        raise InstanceRejected(_REASON.CANNOT_UNDERSTAND, f"{keyword} cannot be decoded: {e}",
                               attribute=keyword) from e


def _int(ds: Dataset, keyword: str, low: int, high: int, *, default: int | None = None) -> int:
    value = _value(ds, keyword)
    if value is None or value == "":
        if default is not None:
            return default
        raise _mismatch(keyword, f"{keyword} is missing")
    if isinstance(value, MultiValue | list):
        raise _mismatch(keyword, f"{keyword} has {len(value)} values, expected one")
    try:
        number = int(value)
    except (TypeError, ValueError) as e:
        raise _mismatch(keyword, f"{keyword} is {value!r}, not an integer") from e
    if not low <= number <= high:
        raise _mismatch(keyword, f"{keyword} is {number}, outside {low}..{high}")
    return number


def _mismatch(keyword: str, message: str) -> InstanceRejected:
    return InstanceRejected(_REASON.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, message, attribute=keyword)
