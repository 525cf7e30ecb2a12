"""Pixels the gateway decodes itself: frames and rendered images of instances stored in a syntax Orthanc 1.10
cannot decode (JPEG 2000, HTJ2K), and rendered frames and thumbnails of videos. pydicom decodes the images with the
kept pylibjpeg plugins (openjpeg for both); FFmpeg (through PyAV) decodes MPEG-2, H.264 and HEVC elementary streams;
Pillow encodes the rendered image. Orthanc still decodes everything else (native, JPEG, JPEG-LS, RLE).

Rendering follows what Orthanc's DICOMweb plugin does with the same parameters (rendering.py checks them and
puts them in its form): the modality LUT (rescale) first, then the window asked for, else the instance's first
window, else the frame's range; MONOCHROME1 inverted; colour images as RGB; `viewport` scales the image (or a
region of it, a negative side flipping it) to fit vw x vh keeping its aspect ratio.
"""

from __future__ import annotations

import io

import av
import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import generate_fragments
from pydicom.pixels import apply_modality_lut, pixel_array
from pydicom.uid import HTJ2K, JPEG2000, UID, HTJ2KLossless, HTJ2KLosslessRPCL, JPEG2000Lossless

from functions.common.dicom.syntaxes import VIDEO_TRANSFER_SYNTAXES
from functions.common.platform.errors import NotFound

# What the gateway decodes itself (Orthanc 1.10's DCMTK has no JPEG 2000 decoder).
DECODED_HERE = frozenset({JPEG2000Lossless, JPEG2000, HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K})


def instance(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def frame_count(ds: pydicom.Dataset) -> int:
    return int(ds.get("NumberOfFrames", 1) or 1) if "PixelData" in ds else 0


def _frame(ds: pydicom.Dataset, number: int) -> np.ndarray:
    """Frame `number` (from 1) decoded, colour as RGB, planes interleaved."""
    if not 1 <= number <= frame_count(ds):
        raise NotFound("No such frame: frames count from 1, and an instance without pixel data has none.")
    if _is_video(ds):
        return _video_frame(ds, number)
    return pixel_array(ds, index=number - 1, as_rgb=True)


def _is_video(ds: pydicom.Dataset) -> bool:
    return ds.file_meta.TransferSyntaxUID in VIDEO_TRANSFER_SYNTAXES


def _video_format(syntax: UID) -> str:
    """FFmpeg's demuxer for the elementary stream a video syntax carries (PS3.5 8.2.5-8.2.8)."""
    name = syntax.keyword
    return "mpeg2video" if name.startswith("MPEG2") else "hevc" if name.startswith("HEVC") else "h264"


def _video_frame(ds: pydicom.Dataset, number: int) -> np.ndarray:
    """Frame `number` of the instance's video stream as 8-bit RGB, decoding no further than that frame."""
    stream = b"".join(generate_fragments(ds.PixelData))
    try:
        with av.open(io.BytesIO(stream), format=_video_format(ds.file_meta.TransferSyntaxUID)) as container:
            for n, frame in enumerate(container.decode(video=0), start=1):
                if n == number:
                    return frame.to_ndarray(format="rgb24")
    except av.FFmpegError:
        raise NotFound("This video's stream cannot be decoded here: retrieve it as stored.") from None
    raise NotFound("No such frame: the video's stream holds fewer frames than its NumberOfFrames.")


def native_frames(ds: pydicom.Dataset, numbers: list[int]) -> list[bytes]:
    """The frames as Explicit VR Little Endian would hold them (BitsAllocated kept, colour-by-pixel RGB)."""
    out = []
    for n in numbers:
        arr = _frame(ds, n)
        out.append(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
    return out


def render(ds: pydicom.Dataset, number: int, *, media_type: str, params: list[tuple[str, str]]) -> bytes:
    """Frame `number` as image/jpeg or image/png with the checked rendering parameters (rendering.py's form)."""
    given = dict(params)
    arr = _frame(ds, number)
    if _is_video(ds):
        pass  # FFmpeg gave display-ready 8-bit RGB (a 10-bit HEVC stream too)
    elif int(ds.get("SamplesPerPixel", 1) or 1) == 1:
        arr = _grey(ds, arr, given.get("window"))
    else:
        arr = _eight_bit_colour(ds, arr)
    image = Image.fromarray(arr)
    if "viewport" in given:
        image = _viewport(image, [int(v) for v in given["viewport"].split(",")])
    out = io.BytesIO()
    if media_type == "image/png":
        image.save(out, format="PNG")
    else:
        image.convert("L" if image.mode == "L" else "RGB").save(out, format="JPEG",
                                                                 quality=int(given.get("quality", 90)))
    return out.getvalue()


def _grey(ds: pydicom.Dataset, arr: np.ndarray, window: str | None) -> np.ndarray:
    values = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    if window:
        center_text, width_text, function = window.split(",")
        center, width = float(center_text), float(width_text)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        center, width, function = _first(ds.WindowCenter), _first(ds.WindowWidth), "linear"
    else:
        low, high = float(values.min()), float(values.max())
        center, width, function = (low + high) / 2, max(high - low, 1.0), "linear-exact"
    if function == "sigmoid":
        scaled = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif function == "linear-exact":
        scaled = (values - (center - width / 2)) / width
    else:  # PS3.3 C.11.2.1.2.1
        scaled = (values - (center - 0.5)) / max(width - 1, 1) + 0.5
    out = np.clip(scaled, 0.0, 1.0) * 255.0
    if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
        out = 255.0 - out
    return out.round().astype(np.uint8)


def _eight_bit_colour(ds: pydicom.Dataset, arr: np.ndarray) -> np.ndarray:
    bits = int(ds.get("BitsStored", 8) or 8)
    if arr.dtype == np.uint8 and bits == 8:
        return arr
    return (arr.astype(np.float64) * (255.0 / ((1 << bits) - 1))).clip(0, 255).round().astype(np.uint8)


def _first(value) -> float:
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def _viewport(image: Image.Image, sizes: list[int]) -> Image.Image:
    vw, vh, *region = sizes
    if region:
        sx, sy, sw, sh = region
        box = (min(sx, sx + sw), min(sy, sy + sh), max(sx, sx + sw), max(sy, sy + sh))
        image = image.crop(box)
        if sw < 0:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if sh < 0:
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    scale = min(vw / image.width, vh / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def decoded_here(transfer_syntax: str | None) -> bool:
    return transfer_syntax is not None and UID(transfer_syntax) in DECODED_HERE


def rendered_here(transfer_syntax: str | None) -> bool:
    """Rendered images and thumbnails made here: the syntaxes decoded here, and videos (Orthanc renders neither)."""
    return decoded_here(transfer_syntax) or transfer_syntax in VIDEO_TRANSFER_SYNTAXES
