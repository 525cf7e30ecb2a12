"""The archive's copy of an instance as a Part 10 file, written without re-encoding what ingest left alone.

pydicom's `save_as` encodes every element that has been decoded (ingest's checks and the profile decode about half
of them), builds the profile's code sequence anew for every instance and deep-copies the file meta information:
1.5 ms of the gateway's 5 ms of work per CT slice. Here an element still as read, or decoded but not changed (its
tag is not among those de-identification took or added, and its bytes are where the data set was read from), goes
out as the bytes it came in as; only changed and new elements go through pydicom. The file reads back as the data
set `save_as` would have written (tests/core/dicom/test_part10_writer.py compares them, file by file).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Collection

from pydicom import Dataset
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, STANDARD_VR

PIXEL_DATA = 0x7FE00010
UNDEFINED = 0xFFFFFFFF
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
Encoded = list[bytes | memoryview]


def write(ds: Dataset, *, changed: Collection[int]) -> bytes:
    """`ds` as `save_as(enforce_file_format=True)` writes it. `changed`: every top-level tag whose value was changed in
    place since `ds` was read (an element replaced by a new one, or added, is found without it).

    A data set not read from bytes in little endian, or whose character set changed, goes through pydicom whole.
    """
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is None or not syntax.is_transfer_syntax or not syntax.is_little_endian or syntax.is_deflated \
            or ds.original_encoding != (syntax.is_implicit_VR, True) \
            or ds.original_character_set != ds._character_set:
        return _saved(ds)  # elements would be converted to another encoding: pydicom's job
    implicit = syntax.is_implicit_VR
    source = read_from(ds)
    charset = ds.get("SpecificCharacterSet")
    out: Encoded = [_head(ds)]
    for tag in sorted(ds._dict):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # group lengths: dcmwrite leaves them out
        elem = ds._dict[tag]
        # A raw element cannot have changed in place; a decoded one listed as changed is encoded anew.
        encoded = _read_parts(elem, implicit, source) if tag not in changed or isinstance(elem, RawDataElement) \
            else None
        if encoded is None:
            encoded = [_pydicom(elem, implicit, charset, syntax.is_compressed)]
        out.extend(encoded)
    return b"".join(out)


def as_read(elem: DataElement | RawDataElement, *, implicit: bool, source: memoryview | None) -> bytes | None:
    """One element as it came in (raw, or decoded from `source` and not changed since); None when that is not known
    (pydicom has to encode it)."""
    parts = _read_parts(elem, implicit, source)
    return b"".join(parts) if parts is not None else None


def _read_parts(elem: DataElement | RawDataElement, implicit: bool, source: memoryview | None) -> Encoded | None:
    if isinstance(elem, RawDataElement):
        return _raw(elem, implicit)
    if source is not None and elem.file_tell is not None:
        return _as_read(source, elem, implicit)
    return None


def _raw(elem: RawDataElement, implicit: bool) -> Encoded | None:
    """A raw element's header and value; None when it is not of this encoding (pydicom writes it)."""
    if elem.is_little_endian is False or elem.is_implicit_VR is not implicit:
        return None
    value = elem.value if elem.value is not None else b""
    length = UNDEFINED if elem.length == UNDEFINED else len(value)
    head = _header(elem.tag, None if implicit else elem.VR, length)
    if head is None:
        return None
    return [head, value, SEQUENCE_DELIMITER] if length == UNDEFINED else [head, value]


def _header(tag: int, vr: str | None, length: int) -> bytes | None:
    group, number = tag >> 16, tag & 0xFFFF
    if vr is None:
        return struct.pack("<HHI", group, number, length)
    if vr not in STANDARD_VR:
        return None
    if vr in EXPLICIT_VR_LENGTH_32:
        return struct.pack("<HH2s2xI", group, number, vr.encode(), length)
    if length > 0xFFFF:
        return None
    return struct.pack("<HH2sH", group, number, vr.encode(), length)


def _as_read(source: memoryview, elem: DataElement, implicit: bool) -> Encoded | None:
    """A decoded, unchanged element as it stands in the bytes it was read from (header checked against its tag and
    VR there); None when those bytes are not its own or its length is undefined."""
    at = elem.file_tell
    long = implicit or elem.VR in EXPLICIT_VR_LENGTH_32
    start = at - (8 if implicit or not long else 12)
    if start < 0:
        return None
    head = bytes(source[start:at])
    if head[:4] != struct.pack("<HH", elem.tag >> 16, elem.tag & 0xFFFF):
        return None
    if implicit:
        length = struct.unpack_from("<I", head, 4)[0]
    elif head[4:6] != str(elem.VR).encode() or (long and head[6:8] != b"\0\0"):
        return None
    else:
        length = struct.unpack_from("<I" if long else "<H", head, 8 if long else 6)[0]
    if length == UNDEFINED or at + length > len(source):
        return None
    return [source[start:at + length]]


def _pydicom(elem: DataElement | RawDataElement, implicit: bool, charset: object, compressed: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    if elem.tag == PIXEL_DATA and isinstance(elem, DataElement):
        elem.is_undefined_length = compressed  # as dcmwrite does
    write_data_element(fp, elem, charset)
    return fp.getvalue()


def read_from(ds: Dataset) -> memoryview | None:
    """The bytes `ds` was read from (`dcmread` of a buffer keeps it), if any."""
    buffer = getattr(ds, "buffer", None)
    if isinstance(buffer, io.BytesIO) and not buffer.closed:
        return buffer.getbuffer()
    return None


def _head(ds: Dataset) -> bytes:
    """Preamble, 'DICM' and the file meta information, as `dcmwrite(enforce_file_format=True)` makes them."""
    meta = FileMetaDataset()
    for elem in ds.file_meta:  # values are immutable (UIDs, text, bytes): new elements, shared values
        meta.add(DataElement(elem.tag, elem.VR, elem.value))
    for meta_keyword, keyword in (("MediaStorageSOPClassUID", "SOPClassUID"),
                                  ("MediaStorageSOPInstanceUID", "SOPInstanceUID")):
        value = ds.get(keyword)
        if meta.get(meta_keyword) is None or (value and value != meta.get(meta_keyword)):
            setattr(meta, meta_keyword, value)
    validate_file_meta(meta, enforce_standard=True)
    return (getattr(ds, "preamble", None) or bytes(128)) + b"DICM" + _meta_bytes(meta)


def _meta_bytes(meta: FileMetaDataset) -> bytes:
    """The group 2 elements, explicit VR little endian, behind their group length (pydicom's writer takes 0.25 ms for
    these few short values; it writes anything this does not know)."""
    parts = []
    for tag in sorted(meta._dict):
        if tag == 0x00020000:
            continue
        elem = meta[tag]
        value = _meta_value(elem)
        head = _header(tag, elem.VR, len(value)) if value is not None else None
        if head is None:
            fp = DicomBytesIO()
            write_file_meta_info(fp, meta, enforce_standard=True)
            return fp.getvalue()
        parts += [head, value]
    body = b"".join(parts)
    return _header(0x00020000, "UL", 4) + struct.pack("<I", len(body)) + body


def _meta_value(elem: DataElement) -> bytes | None:
    value = elem.value
    if elem.VR == "OB" and isinstance(value, bytes):
        return value + b"\0" * (len(value) % 2)
    if elem.VR in ("UI", "AE", "SH", "LO", "CS") and isinstance(value, str) and value.isascii():
        data = value.encode()
        return data + (b"\0" if elem.VR == "UI" else b" ") * (len(data) % 2)
    return None


def _saved(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
