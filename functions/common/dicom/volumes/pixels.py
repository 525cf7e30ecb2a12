"""Stored pixel values of an instance as (frames, rows, columns): uncompressed data straight from its bytes,
compressed data through pydicom's decoders (which plugins exist here: `decoders_available`)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ImplicitVRLittleEndian

from .errors import CannotDecode

PIXEL_DATA = (0x7FE0, 0x0010)


def transfer_syntax(ds: Dataset) -> UID:
    """The instance's transfer syntax (implicit little endian when the file meta does not say)."""
    meta = getattr(ds, "file_meta", None)
    return UID(str(meta.get("TransferSyntaxUID", ImplicitVRLittleEndian) if meta is not None
                   else ImplicitVRLittleEndian))


def can_decode(syntax: UID) -> bool:
    """Whether this process decodes pixel data in `syntax` (uncompressed always; compressed per plugin)."""
    if not syntax.is_compressed:
        return True
    try:
        return get_decoder(syntax).is_available
    except NotImplementedError:
        return False


def _missing(syntax: UID) -> list[str]:
    try:
        return list(get_decoder(syntax).missing_dependencies)
    except NotImplementedError:  # no decoder in pydicom at all
        return []


def decoders_available(syntaxes: list[UID]) -> dict[str, list[str]]:
    """For each syntax, the installed pydicom plugins that decode it, or the packages that would."""
    report = {}
    for syntax in syntaxes:
        report[syntax.name] = (["native"] if not syntax.is_compressed
                               else list(get_decoder(syntax).available_plugins) if can_decode(syntax)
                               else [f"missing: {m}" for m in _missing(syntax)])
    return report


def _native_dtype(ds: Dataset) -> np.dtype | None:
    """The dtype of uncompressed little-endian grey pixels when they can be read without unpacking."""
    bits, stored = int(ds.BitsAllocated), int(ds.get("BitsStored", ds.BitsAllocated))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if bits not in (8, 16, 32) or (signed and stored != bits):  # signed with spare bits needs sign extension
        return None
    return np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")


def _shape(ds: Dataset) -> tuple[int, int, int]:
    return int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns)


def _native_view(data: bytes | memoryview, dtype: np.dtype, shape: tuple[int, int, int],
                 offset: int = 0) -> np.ndarray | None:
    """The frames as a view of `data` from `offset`, when it holds enough bytes for them."""
    count = shape[0] * shape[1] * shape[2]
    if len(data) - offset < count * dtype.itemsize:
        return None
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)


def stored_frames(ds: Dataset) -> np.ndarray:
    """The stored values of every frame, (frames, rows, columns); `CannotDecode` when this process cannot."""
    syntax = transfer_syntax(ds)
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise CannotDecode(syntax.name, why=f"{ds.get('PhotometricInterpretation', 'colour')} images have "
                                            "several samples per pixel; models take grey images")
    if "PixelData" not in ds:
        raise CannotDecode(syntax.name, why="the instance has no PixelData (float pixel data is not supported)")
    dtype = None if syntax.is_compressed or not syntax.is_little_endian else _native_dtype(ds)
    if dtype is not None and (frames := _native_view(ds.PixelData, dtype, _shape(ds))) is not None:
        return frames
    if not can_decode(syntax):
        raise CannotDecode(syntax.name, _missing(syntax))
    try:
        array = ds.pixel_array
    except Exception as e:  # noqa: BLE001 - decoders raise many types for corrupt data; all mean the same here
        raise CannotDecode(syntax.name, why=f"the decoder failed ({type(e).__name__})") from e
    return array.reshape(_shape(ds))


def _value_offset(data: bytes, at: int, implicit: bool) -> int | None:
    """Where the value of the native PixelData element whose tag starts at `at` begins; None when no such
    element is there (another element, the end of the file, or encapsulated pixel data)."""
    header = 8 if implicit else 12  # tag, length | tag, VR, reserved, length
    if len(data) < at + header or struct.unpack_from("<HH", data, at) != PIXEL_DATA:
        return None
    if not implicit and data[at + 4:at + 6] not in (b"OB", b"OW"):
        return None
    (length,) = struct.unpack_from("<L", data, at + header - 4)
    return None if length == 0xFFFFFFFF else at + header


def _in_place(ds: Dataset, data: bytes, at: int) -> np.ndarray | None:
    """Uncompressed little-endian grey frames as a view of the file's bytes; None for anything else."""
    implicit, little = ds.original_encoding
    syntax = transfer_syntax(ds)
    if (not little or syntax.is_compressed or syntax.is_deflated or int(ds.get("SamplesPerPixel", 1)) != 1
            or not all(k in ds for k in ("Rows", "Columns", "BitsAllocated"))):
        return None
    dtype, offset = _native_dtype(ds), _value_offset(data, at, bool(implicit))
    return None if dtype is None or offset is None else _native_view(data, dtype, _shape(ds), offset)


def parse_instance(data: bytes) -> tuple[Dataset, np.ndarray | None]:
    """An instance file as its header (no pixel data: what a result references) and its stored frames: a view of
    `data` when uncompressed (no copy), decoded when compressed, None when this process cannot decode them (ask
    the archive); `CannotDecode` for pixel data no model takes."""
    fp = io.BytesIO(data)
    ds = pydicom.dcmread(fp, stop_before_pixels=True)
    ds.buffer = None  # the header outlives the file's bytes
    frames = _in_place(ds, data, fp.tell())
    if frames is not None:
        return ds, frames
    if not can_decode(transfer_syntax(ds)):
        return ds, None
    return ds, stored_frames(pydicom.dcmread(io.BytesIO(data)))  # compressed, or unusual: pydicom's own way
