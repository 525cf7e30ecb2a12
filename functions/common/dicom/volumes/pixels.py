"""Stored pixel values of an instance as (frames, rows, columns): uncompressed data straight from its bytes,
compressed data through pydicom's decoders (which plugins exist here: `decoders_available`)."""

from __future__ import annotations

import numpy as np
from pydicom import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ImplicitVRLittleEndian

from .errors import CannotDecode


def transfer_syntax(ds: Dataset) -> UID:
    """The instance's transfer syntax (implicit little endian when the file meta does not say)."""
    meta = getattr(ds, "file_meta", None)
    return UID(str(meta.get("TransferSyntaxUID", ImplicitVRLittleEndian) if meta is not None else ImplicitVRLittleEndian))


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


def stored_frames(ds: Dataset) -> np.ndarray:
    """The stored values of every frame, (frames, rows, columns); `CannotDecode` when this process cannot."""
    syntax = transfer_syntax(ds)
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise CannotDecode(syntax.name, why=f"{ds.get('PhotometricInterpretation', 'colour')} images have "
                                            "several samples per pixel; models take grey images")
    if "PixelData" not in ds:
        raise CannotDecode(syntax.name, why="the instance has no PixelData (float pixel data is not supported)")
    frames, rows, columns = int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns)
    dtype = None if syntax.is_compressed or not syntax.is_little_endian else _native_dtype(ds)
    if dtype is not None:
        count = frames * rows * columns
        data = np.frombuffer(ds.PixelData, dtype=dtype, count=count) if len(ds.PixelData) >= count * dtype.itemsize \
            else None
        if data is not None:
            return data.reshape(frames, rows, columns)
    if not can_decode(syntax):
        raise CannotDecode(syntax.name, _missing(syntax))
    try:
        array = ds.pixel_array
    except Exception as e:  # noqa: BLE001 - decoders raise many types for corrupt data; all mean the same here
        raise CannotDecode(syntax.name, why=f"the decoder failed ({type(e).__name__})") from e
    return array.reshape(frames, rows, columns)
