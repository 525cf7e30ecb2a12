"""Transfer syntaxes: the media type each stored one's frames travel in (`FRAME_MEDIA_TYPES`), the video ones
(`VIDEO_TRANSFER_SYNTAXES`), and those accepted at ingest but never stored: Deflated Explicit VR Little Endian is
inflated within the zip archives' caps, Explicit VR Big Endian is byte-swapped; both become Explicit VR Little
Endian Part 10 bytes (and a data set written in the other VR form than its transfer syntax says is rewritten in the
declared one), which `validation.parse_part10` then reads and checks like any other upload."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator

from pydicom import Dataset
from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    HEVCM10P51,
    HEVCMP51,
    HTJ2K,
    JPEG2000,
    MPEG2MPHL,
    MPEG2MPHLF,
    MPEG2MPML,
    MPEG2MPMLF,
    MPEG4HP41,
    MPEG4HP41BD,
    MPEG4HP41BDF,
    MPEG4HP41F,
    MPEG4HP42STEREO,
    MPEG4HP42STEREOF,
    MPEG4HP422D,
    MPEG4HP422DF,
    MPEG4HP423D,
    MPEG4HP423DF,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    MPEGTransferSyntaxes,
    RLELossless,
)

from functions.common.dicom.refusal import FailureReason, InstanceRejected

__all__ = ["FRAME_MEDIA_TYPES", "MAX_DEFLATE_RATIO", "VIDEO_TRANSFER_SYNTAXES", "inflated_part10",
           "little_endian_part10"]

log = logging.getLogger(__name__)

# MPEG-2, MPEG-4 AVC/H.264 (every profile, fragmentable or not) and HEVC/H.265: PixelData holds one video stream.
VIDEO_TRANSFER_SYNTAXES: frozenset[str] = frozenset(MPEGTransferSyntaxes)

# Stored transfer syntax → the media type its frames (pixel data) are sent in as stored, after PS3.18 §8.7.3.3.2
# and Table 8.7.4-1 (media types and the transfer syntaxes they carry). RLE is image/dicom-rle and JPEG-LS image/jls,
# as IANA registered them (older editions said image/x-dicom-rle and image/x-jls); MPEG-4 AVC of every profile
# travels as video/mp4. Orthanc 1.10's DICOMweb plugin (1.7) sends JPEG, JPEG-LS, JPEG 2000 and RLE frames as
# stored when asked for these types (it takes the x- names too and answers with these), but refuses video/* and
# image/jphc with 400: those frames have to be cut from the stored instance.
FRAME_MEDIA_TYPES: dict[str, str] = {
    ImplicitVRLittleEndian: "application/octet-stream",
    ExplicitVRLittleEndian: "application/octet-stream",
    JPEGBaseline8Bit: "image/jpeg",
    JPEGExtended12Bit: "image/jpeg",
    JPEGLossless: "image/jpeg",
    JPEGLosslessSV1: "image/jpeg",
    JPEGLSLossless: "image/jls",
    JPEGLSNearLossless: "image/jls",
    JPEG2000Lossless: "image/jp2",
    JPEG2000: "image/jp2",
    HTJ2KLossless: "image/jphc",
    HTJ2KLosslessRPCL: "image/jphc",
    HTJ2K: "image/jphc",
    RLELossless: "image/dicom-rle",
    **{uid: "video/mpeg" for uid in (MPEG2MPML, MPEG2MPMLF, MPEG2MPHL, MPEG2MPHLF)},
    **{uid: "video/mp4" for uid in (MPEG4HP41, MPEG4HP41F, MPEG4HP41BD, MPEG4HP41BDF, MPEG4HP422D, MPEG4HP422DF,
                                    MPEG4HP423D, MPEG4HP423DF, MPEG4HP42STEREO, MPEG4HP42STEREOF)},
    HEVCMP51: "video/H265",
    HEVCM10P51: "video/H265",
}

MAX_DEFLATE_RATIO = 100  # inflated / deflated bytes per file, for this syntax and zip imports alike
_STEP = 1 << 20  # inflated per zlib call, so a bomb is stopped within a megabyte of the cap

# Bytes per swapped unit of the binary VRs whose values pydicom writes as they were read (PS3.5 §6.2).
_SWAP_UNITS = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_PIXEL_DATA = 0x7FE00010


def inflated_part10(data: bytes, meta: FileMetaDataset, data_set_start: int, *, max_bytes: int) -> bytes:
    """The deflated file as Explicit VR Little Endian Part 10 bytes; refused past the size or ratio cap."""
    deflated = memoryview(data)[data_set_start:]
    by_ratio = MAX_DEFLATE_RATIO * len(deflated)
    cap = min(max_bytes, by_ratio)
    cap_text = (f"the {MAX_DEFLATE_RATIO}× expansion cap ({by_ratio} bytes for {len(deflated)} deflated)"
                if by_ratio < max_bytes else f"the instance size cap of {max_bytes} bytes")
    inflator = zlib.decompressobj(-zlib.MAX_WBITS)  # PS3.5 A.5: raw deflate, no zlib header
    out = bytearray()
    pending: bytes | memoryview = deflated
    try:
        while not inflator.eof:
            chunk = inflator.decompress(pending, _STEP)
            pending = inflator.unconsumed_tail
            if not chunk and not pending:
                break
            out += chunk
            if len(out) > cap:
                reason = FailureReason.OUT_OF_RESOURCES if cap == max_bytes else FailureReason.CANNOT_UNDERSTAND
                raise InstanceRejected(reason, f"the deflated data set inflates past {cap_text}; send it "
                                       "uncompressed", attribute="TransferSyntaxUID")
    except zlib.error as e:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"the deflated data set is corrupt: {e}",
                               attribute="TransferSyntaxUID") from e
    if not inflator.eof:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "the deflated data set ends before its deflate "
                               "stream does (truncated?)", attribute="TransferSyntaxUID")
    # Bytes after the stream's end (a NUL pad, or a gzip-style CRC and size as in pydicom's image_dfl.dcm) are
    # not part of the data set; pydicom ignores them too.
    log.debug("inflated a deflated data set", extra={"deflated": len(deflated), "inflated": len(out),
                                                     "trailing": len(inflator.unused_data)})
    return _preamble(data) + _meta_bytes(meta) + bytes(out)


def little_endian_part10(ds: Dataset) -> bytes:
    """An Explicit VR Big Endian instance as Explicit VR Little Endian Part 10 bytes, its values unchanged."""
    pixel_data = ds.get(_PIXEL_DATA)
    if pixel_data is not None and pixel_data.is_undefined_length:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "PixelData is encapsulated in a big endian data set, "
                               "which the standard does not allow", attribute="PixelData")
    bits_allocated = ds.get("BitsAllocated")
    for element in _binary_elements(ds):
        unit = _SWAP_UNITS[element.VR]
        if element.tag == _PIXEL_DATA and element.VR == "OW" and isinstance(bits_allocated, int):
            # pydicom decodes big endian pixel cells of 16, 32 and 64 bits in their own size, and 8-bit
            # cells in OW as swapped pairs; 1-bit (packed) data as bytes: the stored copy decodes the same.
            unit = {1: 1, 8: 2, 16: 2, 32: 4, 64: 8}.get(bits_allocated, 2)
        element.value = _swapped(element.value, unit, element.keyword or str(element.tag))
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, ds)  # every element was decoded above: numbers are encoded afresh, in little endian
    return _preamble(ds.preamble or bytes(128)) + _meta_bytes(ds.file_meta) + buffer.getvalue()


def read_in_other_vr_form(ds: Dataset) -> bool:
    """Whether the data set's elements were written with implicit VR under an explicit VR transfer syntax, or the
    other way round (pydicom reads such a file in the form it finds, warning; writers of that kind exist)."""
    implicit = ds.file_meta.TransferSyntaxUID.is_implicit_VR
    raw = next((e for e in (ds.get_item(t) for t in ds.keys()) if isinstance(e, RawDataElement)), None)
    return raw is not None and raw.is_implicit_VR is not implicit


def declared_vr_part10(ds: Dataset) -> bytes:
    """A data set read in the other VR form than its transfer syntax says, written in the declared one: the VRs come
    from the data dictionary (UN for private and unknown attributes) as pydicom's `save_as` does when it converts;
    values unchanged."""
    implicit = ds.file_meta.TransferSyntaxUID.is_implicit_VR
    ds.set_original_encoding(not implicit, True, ds._character_set)  # the form it was read in
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, implicit
    write_dataset(buffer, ds)  # a form other than the original: every element converted, ambiguous VRs resolved
    return _preamble(ds.preamble or bytes(128)) + _meta_bytes(ds.file_meta, ds.file_meta.TransferSyntaxUID) \
        + buffer.getvalue()


def _binary_elements(ds: Dataset) -> Iterator:
    """Every element of the data set and its sequences (decoded from big endian) whose value is swapped here."""
    for tag in list(ds.keys()):
        element = ds[tag]  # converting the raw element decodes numbers (US, SS, FL, ...) in the read byte order
        if element.VR == "SQ":
            for item in element.value or []:
                yield from _binary_elements(item)
        elif element.VR in _SWAP_UNITS and element.value:
            yield element


def _swapped(value: bytes, unit: int, name: str) -> bytes:
    """Each `unit`-byte word of `value` with its bytes reversed."""
    if unit == 1:
        return value
    if len(value) % unit:
        raise InstanceRejected(FailureReason.DATA_SET_DOES_NOT_MATCH_SOP_CLASS, f"{name} is {len(value)} bytes long, "
                               f"not a whole number of {unit}-byte words to convert from big endian", attribute=name)
    swapped = bytearray(len(value))
    for offset in range(unit):
        swapped[offset::unit] = value[unit - 1 - offset::unit]
    return bytes(swapped)


def _preamble(data: bytes) -> bytes:
    return data[:128] + b"DICM"


def _meta_bytes(meta: FileMetaDataset, syntax: str = ExplicitVRLittleEndian) -> bytes:
    """The file meta information with `syntax` as its transfer syntax, group length recomputed."""
    meta = FileMetaDataset(meta)
    meta.TransferSyntaxUID = syntax
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_file_meta_info(buffer, meta, enforce_standard=False)
    return buffer.getvalue()
