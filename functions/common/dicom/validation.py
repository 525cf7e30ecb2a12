"""The gateway's shield: refuse an instance before Orthanc sees it when its UIDs, SOP class, transfer syntax
or pixel module are wrong or would steer Orthanc 1.10.1's decoders past the end of a buffer.

Checks run cheapest and most general first; the first problem found is reported, naming the attribute.
Here: reading a Part 10 file, UIDs, SOP class and transfer syntax; the pixel module's checks are in
`pixels.py`, the failure reasons and the refusal in `refusal.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from typing import Any

from pydicom import Dataset, dcmread
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_preamble  # the public read_file_meta_info wants a path
from pydicom.multival import MultiValue
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
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
    RLELossless,
    VideoEndoscopicImageStorage,
    VideoMicroscopicImageStorage,
    VideoPhotographicImageStorage,
)

from functions.common.dicom.pixels import check_pixels
from functions.common.dicom.refusal import FailureReason, InstanceRejected, attribute_value, mismatch
from functions.common.dicom.syntaxes import (
    VIDEO_TRANSFER_SYNTAXES,
    declared_vr_part10,
    inflated_part10,
    little_endian_part10,
    read_in_other_vr_form,
)
from functions.common.platform.config import get_settings

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_MAX_PIXEL_DATA_BYTES",
    "DEFAULT_TRANSFER_SYNTAXES",
    "VIDEO_SOP_CLASSES",
    "FailureReason",
    "InstanceRejected",
    "check_instance",
    "parse_part10",
]


# Every standard storage syntax in use: uncompressed little endian, JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE, and the
# video ones (for video SOP classes only). Orthanc 1.10.1 stores them all; it cannot decode JPEG 2000 and HTJ2K,
# whose frames go out as stored. Deflated and big endian instances are accepted too, but `parse_part10` turns them
# into Explicit VR Little Endian before any check. Left out: JPEG 2000 Part 2 multi-component, the JPIP
# referenced syntaxes (no pixels in the data set), Encapsulated Uncompressed and the retired JPEG processes.
DEFAULT_TRANSFER_SYNTAXES: frozenset[str] = frozenset({
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    HTJ2K,
    RLELossless,
    *VIDEO_TRANSFER_SYNTAXES,
})
# The IODs whose pixel data may be a video stream (PS3.3 A.32.5-A.32.7); no other image holds one.
VIDEO_SOP_CLASSES: frozenset[str] = frozenset({
    VideoEndoscopicImageStorage,
    VideoMicroscopicImageStorage,
    VideoPhotographicImageStorage,
})
DEFAULT_MAX_FRAME_BYTES = 64 * 2**20  # a 4096 × 4096 8-bit RGB frame fits; Orthanc decodes one frame at a time
DEFAULT_MAX_FRAMES = 10_000
DEFAULT_MAX_PIXEL_DATA_BYTES = 512 * 2**20  # the gateway's largest STOW instance

_REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
_UID_COMPONENT = re.compile(r"[0-9]+")
_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."  # PS3.4 Annex B: the Storage Service Class's SOP classes
_UNDEFINED_LENGTH = 0xFFFFFFFF


def parse_part10(data: bytes, *, max_inflated_bytes: int | None = None) -> Dataset:
    """Read a DICOM Part 10 file, refusing non-DICOM and truncated input before it costs anything; a deflated or
    big endian one comes back as Explicit VR Little Endian, the form it is checked and stored in; one whose elements
    are written in the other VR form than its transfer syntax says (implicit under explicit) in the declared form.

    `max_inflated_bytes` caps a deflated data set's inflated size (default: the platform's instance size cap).
    """
    if data[:2] == b"\x02\x00" and data[4:6].isalpha() and data[4:6].isupper():
        # File meta information without the 128-byte preamble and 'DICM' (pydicom writes this for
        # datasets built in memory, e.g. dicomweb-client's STOW): the same file, preamble added.
        data = bytes(128) + b"DICM" + data
    buffer = BytesIO(data)
    try:
        read_preamble(buffer, False)
        meta = _read_file_meta_info(buffer)
        transfer_syntax = meta.get("TransferSyntaxUID")
    except InvalidDicomError as e:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: no 'DICM' prefix after a "
                               "128-byte preamble") from e
    except Exception as e:  # pydicom raises many types on hostile bytes; all mean the same to the sender
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: {e}") from e
    if not isinstance(transfer_syntax, str) or not transfer_syntax:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: the file meta information has "
                               "no TransferSyntaxUID (truncated?)", attribute="TransferSyntaxUID")
    transfer_syntax = UID(transfer_syntax)
    if not transfer_syntax.is_transfer_syntax:
        raise InstanceRejected(FailureReason.TRANSFER_SYNTAX_NOT_SUPPORTED, f"TransferSyntaxUID {transfer_syntax!r} is not "
                               "a known transfer syntax", attribute="TransferSyntaxUID")
    if transfer_syntax.is_deflated:  # inflated here, within caps: pydicom would inflate the rest unbounded
        data = inflated_part10(data, meta, buffer.tell(), max_bytes=max_inflated_bytes or _max_instance_bytes())
    ds = _read(data)
    if not transfer_syntax.is_little_endian:
        ds = _read(_converted(ds, little_endian_part10, "converted from big endian to little endian"))
    elif read_in_other_vr_form(ds):
        ds = _read(_converted(ds, declared_vr_part10, "written in the VR form its TransferSyntaxUID says"))
    return ds


def _read(data: bytes) -> Dataset:
    """The whole file parsed, refused when pydicom cannot read it or it is cut short."""
    try:
        ds = dcmread(BytesIO(data), force=False)
        _check_complete(ds, len(data))
    except InstanceRejected:
        raise
    except Exception as e:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: {e}") from e
    return ds


def _converted(ds: Dataset, convert: Callable[[Dataset], bytes], into: str) -> bytes:
    """The instance rewritten by `convert` in the form it is checked and stored in; a value pydicom cannot decode
    refuses it, saying it cannot be `into`."""
    try:
        return convert(ds)
    except InstanceRejected:
        raise
    except Exception as e:  # noqa: BLE001 - pydicom raises many types on malformed values; all mean the same
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"the data set cannot be {into}: {e}") from e


def _max_instance_bytes() -> int:
    """The platform's instance size cap, read only when a deflated instance needs it."""
    return get_settings().max_instance_bytes


def _check_complete(ds: Dataset, size: int) -> None:
    """pydicom silently accepts a short last value or header; an interrupted upload must not pass."""
    if len(ds) == 0:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "not a DICOM Part 10 file: no data set after the file "
                               "meta information (truncated?)")
    end: int | None = None
    for tag in ds.keys():
        element = ds.get_item(tag)
        if isinstance(element, RawDataElement) and element.length != _UNDEFINED_LENGTH:
            read = len(element.value or b"")
            if read < element.length:
                name = keyword_for_tag(tag) or str(tag)
                raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: truncated in {name}, "
                                       f"{read} of {element.length} bytes present", attribute=name)
            end = element.value_tell + element.length
        else:
            end = None  # an undefined-length value; pydicom raises itself when its delimiter is missing
    if end is not None and end < size:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"not a DICOM Part 10 file: truncated, {size - end} bytes "
                               "of an incomplete element header at the end")


def check_instance(
    ds: Dataset,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_pixel_data_bytes: int = DEFAULT_MAX_PIXEL_DATA_BYTES,
    allowed_transfer_syntaxes: frozenset[str] = DEFAULT_TRANSFER_SYNTAXES,
) -> None:
    """Raise InstanceRejected unless the instance is safe and consistent enough to hand to Orthanc; a segmented
    palette is expanded in `ds` itself (the data set ingest stores), the only change a check makes."""
    for keyword in _REQUIRED_UIDS:
        _check_uid(keyword, attribute_value(ds, keyword))
    sop_class = UID(str(ds.SOPClassUID))
    if not _is_storage_sop_class(sop_class):
        name = sop_class.name or "unknown"
        raise InstanceRejected(FailureReason.SOP_CLASS_NOT_SUPPORTED, f"SOPClassUID {sop_class} ({name}) is not a storage "
                               "SOP class this archive accepts", attribute="SOPClassUID")
    meta = getattr(ds, "file_meta", None) or Dataset()
    transfer_syntax = meta.get("TransferSyntaxUID")
    if not transfer_syntax:
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, "TransferSyntaxUID is missing from the file meta "
                               "information", attribute="TransferSyntaxUID")
    transfer_syntax = UID(str(transfer_syntax))
    if transfer_syntax not in allowed_transfer_syntaxes:
        name = transfer_syntax.name or transfer_syntax
        raise InstanceRejected(FailureReason.TRANSFER_SYNTAX_NOT_SUPPORTED, f"TransferSyntaxUID {name} is not accepted; "
                               "send uncompressed little endian, JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE or (video) "
                               "MPEG-2, MPEG-4 AVC or HEVC", attribute="TransferSyntaxUID")
    if transfer_syntax in VIDEO_TRANSFER_SYNTAXES and sop_class not in VIDEO_SOP_CLASSES:
        # Both attributes named first: the STOW answer's ErrorComment keeps 64 characters.
        raise InstanceRejected(FailureReason.TRANSFER_SYNTAX_NOT_SUPPORTED, "TransferSyntaxUID is video but "
                               f"SOPClassUID is not: {transfer_syntax.name} for {sop_class.name} ({sop_class}); only "
                               "Video Endoscopic, Microscopic and Photographic images are video, send the frames as "
                               "images", attribute="TransferSyntaxUID")
    check_pixels(ds, sop_class, transfer_syntax, max_frame_bytes=max_frame_bytes, max_frames=max_frames,
                  max_pixel_data_bytes=max_pixel_data_bytes)


# -------------------------------------------------------------------------------------------------- UIDs


def _check_uid(keyword: str, value: Any) -> None:
    if value is None or value == "":
        raise mismatch(keyword, f"{keyword} is missing")
    if isinstance(value, MultiValue | list):
        raise mismatch(keyword, f"{keyword} has {len(value)} values, a UID has one")
    uid = str(value)
    if len(uid) > 64:
        raise mismatch(keyword, f"{keyword} is {len(uid)} characters long, a UID has at most 64")
    for component in uid.split("."):
        if not _UID_COMPONENT.fullmatch(component):
            raise mismatch(keyword, f"{keyword} {uid!r} is not a UID: components are digits separated by dots")
        if len(component) > 1 and component.startswith("0"):
            raise mismatch(keyword, f"{keyword} {uid!r} is not a UID: component {component!r} has a leading zero")


def _is_storage_sop_class(uid: UID) -> bool:
    """A composite storage SOP class pydicom knows (retired ones included), not a DICOMDIR or service class."""
    return uid.startswith(_STORAGE_PREFIX) and uid.type == "SOP Class" and "Storage" in uid.name


