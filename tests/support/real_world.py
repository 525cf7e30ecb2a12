"""Real-world instances for the transfer syntax and palette tests: the sample files pydicom's wheel ships (read
from the wheel itself, never downloaded), HTJ2K made from them with imagecodecs' OpenJPH encoder (no installed
package ships an HTJ2K file), tiny video streams made by PyAV's FFmpeg (mpeg2video, libx264, libx265: no
package ships a DICOM video), and segmented palette colour LUTs written as PS3.3 C.7.9.2 lays them out."""

from __future__ import annotations

import copy
import functools
import io
import uuid
from pathlib import Path

import av
import imagecodecs
import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.encaps import encapsulate, generate_fragments, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    HEVCM10P51,
    HEVCMP51,
    HTJ2K,
    MPEG2MPHL,
    MPEG2MPHLF,
    MPEG2MPML,
    MPEG2MPMLF,
    UID,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    VideoEndoscopicImageStorage,
    generate_uid,
)

SAMPLES = Path(pydicom.__file__).parent / "data" / "test_files"

# Stored as sent: pydicom's samples of each compressed syntax (SOP classes: MR, CT, Secondary Capture, US).
STORED_AS_SENT = [
    "JPEG2000.dcm",  # JPEG 2000, 16-bit signed CT
    "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "JPEGLSNearLossless_08.dcm",  # JPEG-LS near-lossless, 8-bit
    "JPEGLSNearLossless_16.dcm",  # JPEG-LS near-lossless, 16-bit
    "SC_rgb_jls_lossy_line.dcm",  # JPEG-LS near-lossless, RGB, line interleaved
    "SC_rgb_jls_lossy_sample.dcm",  # JPEG-LS near-lossless, RGB, sample interleaved
    "MR_small_RLE.dcm",  # RLE, 16-bit
    "SC_rgb_rle.dcm",  # RLE, 8-bit RGB
    "SC_rgb_rle_16bit_2frame.dcm",  # RLE, 16-bit RGB, 2 frames
    "JPGExtended.dcm",  # JPEG extended
    "SC_rgb_jpeg_lossy_gdcm.dcm",  # JPEG baseline by GDCM
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline by DCMTK
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless SV1 by GDCM
    "CT_small.dcm",  # explicit VR little endian
    "MR_small_implicit.dcm",  # implicit VR little endian
    "examples_palette.dcm",  # PALETTE COLOR, 16-bit LUTs
]
# Stored as sent, but no installed decoder reads its pixels (libjpeg finds a misplaced marker; pydicom's own tests
# decode it with GDCM only): compared byte for byte.
UNDECODED = ["JPEG-lossy.dcm"]  # JPEG extended, 12-bit
# Converted to Explicit VR Little Endian at ingest.
CONVERTED = ["MR_small_bigendian.dcm", "image_dfl.dcm"]
HTJ2K_SYNTAXES = [HTJ2KLossless, HTJ2KLosslessRPCL, HTJ2K]
MPEG2_SYNTAXES = {MPEG2MPML, MPEG2MPMLF, MPEG2MPHL, MPEG2MPHLF}
HEVC_SYNTAXES = {HEVCMP51, HEVCM10P51}


def sample(name: str) -> Dataset:
    """A sample from pydicom's wheel (never downloaded: `get_testdata_file` would fetch a missing one)."""
    path = SAMPLES / name
    assert path.is_file(), f"pydicom's wheel no longer ships {name}"
    return pydicom.dcmread(path)


# No pydicom plugin installed here decodes these: pylibjpeg-libjpeg would, but the volume reader's tests need an
# encapsulated syntax this process cannot decode (left to the archive), and JPEG lossless is theirs. Their frames
# are decoded by libjpeg-turbo 3 through imagecodecs (12-bit lossy and 2- to 16-bit lossless) instead.
DECODED_BY_IMAGECODECS = {JPEGExtended12Bit, JPEGLossless, JPEGLosslessSV1}


def decoded_pixels(ds: Dataset) -> np.ndarray:
    """The instance's pixels: pydicom's pixel_array, or for DECODED_BY_IMAGECODECS libjpeg-turbo's frames."""
    if ds.file_meta.TransferSyntaxUID not in DECODED_BY_IMAGECODECS:
        return ds.pixel_array
    count = int(ds.get("NumberOfFrames", 1))
    frames = [imagecodecs.jpeg8_decode(frame) for frame in generate_frames(ds.PixelData, number_of_frames=count)]
    pixels = np.stack(frames) if count > 1 else frames[0]
    if ds.PixelRepresentation == 1 and ds.BitsStored == 16:  # the decoder's unsigned words are two's complement
        pixels = pixels.astype(np.uint16).view(np.int16)
    return pixels


def with_fresh_uids(ds: Dataset) -> Dataset:
    """A copy with new Study, Series and SOP Instance UIDs and PatientID, so each test stores new instances
    (some samples have no Study or Series UID at all)."""
    ds = copy.deepcopy(ds)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID = f"RW-{uuid.uuid4().hex[:8]}"
    ds.PatientName = ds.get("PatientName") or "REAL^WORLD"
    return ds


def part10(ds: Dataset) -> bytes:
    """The data set as Part 10 bytes, in its own transfer syntax."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def in_other_vr_form(ds: Dataset) -> bytes:
    """Part 10 bytes as a writer that ignores its own transfer syntax makes them (pydicom's SC_rgb_jpeg.dcm is one):
    the file meta information right, the data set in the other VR form (implicit VR under an explicit VR syntax, or
    the other way round)."""
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, ds.file_meta)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, not ds.file_meta.TransferSyntaxUID.is_implicit_VR
    write_dataset(body, ds)
    return bytes(128) + b"DICM" + meta.getvalue() + body.getvalue()


# --------------------------------------------------------------------------------------------------- HTJ2K


def htj2k(syntax: UID, name: str = "CT_small.dcm") -> Dataset:
    """A sample's frame compressed by OpenJPH: reversible for the lossless syntaxes, with TLM markers and (OpenJPH's
    default) RPCL progression for the RPCL one, irreversible for plain HTJ2K."""
    ds = sample(name)
    stream = imagecodecs.htj2k_encode(ds.pixel_array, reversible=syntax != HTJ2K, tlm=syntax == HTJ2KLosslessRPCL)
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax == HTJ2K:
        ds.LossyImageCompression = "01"
    return ds


def jpeg_lossless(syntax: UID, name: str = "CT_small.dcm") -> Dataset:
    """A sample's frame compressed by libjpeg-turbo's lossless JPEG (through imagecodecs): predictor 1 for the SV1
    syntax, predictor 6 for plain Process 14 (no sample of it in pydicom's wheel has a SOP class)."""
    ds = sample(name)
    pixels = ds.pixel_array.astype(np.uint16)  # the stored bit pattern; the samples' values are positive
    stream = imagecodecs.jpeg8_encode(pixels, lossless=True, predictor=1 if syntax == JPEGLosslessSV1 else 6,
                                      bitspersample=int(ds.BitsStored))
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


# --------------------------------------------------------------------------------------------------- video


def video_stream(syntax: UID, *, frames: int = 6, size: int = 64) -> bytes:
    """A moving square encoded by FFmpeg (through PyAV) as the syntax's elementary stream: MPEG-2 video, H.264
    High profile, or HEVC Main / Main 10."""
    if syntax in MPEG2_SYNTAXES:
        codec, fmt, pix_fmt, options = "mpeg2video", "mpeg2video", "yuv420p", {}
    elif syntax in HEVC_SYNTAXES:
        pix_fmt = "yuv420p10le" if syntax == HEVCM10P51 else "yuv420p"
        codec, fmt, options = "libx265", "hevc", {"x265-params": "log-level=error"}
    else:
        codec, fmt, pix_fmt, options = "libx264", "h264", "yuv420p", {"profile": "high", "level": "4.1"}
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = size, size, pix_fmt, options
        for n in range(frames):
            image = np.full((size, size, 3), 40, np.uint8)
            image[8:24, 4 + 4 * n: 20 + 4 * n] = (250, 200, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decoded_video(stream: bytes, syntax: UID) -> list[np.ndarray]:
    """Every frame of an elementary stream, decoded by FFmpeg to RGB."""
    fmt = "mpeg2video" if syntax in MPEG2_SYNTAXES else "hevc" if syntax in HEVC_SYNTAXES else "h264"
    with av.open(io.BytesIO(stream), format=fmt) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def video_instance(syntax: UID, *, fragments: int = 1, sop_class: str = VideoEndoscopicImageStorage,
                   frames: int = 6) -> Dataset:
    """A Video Endoscopic Image (by default) whose PixelData is one stream of `frames` frames, cut into `fragments`
    fragments (the Fragmentable syntaxes allow several), with an empty Basic Offset Table."""
    stream = video_stream(syntax, frames=frames)
    ds = sample("CT_small.dcm")
    for keyword in ("RescaleIntercept", "RescaleSlope", "WindowCenter", "WindowWidth", "KVP", "SliceThickness",
                    "ImagePositionPatient", "ImageOrientationPatient", "SliceLocation", "PixelSpacing"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.Modality = "ES"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_PARTIAL_420", 0
    ten_bit = syntax == HEVCM10P51
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = (16, 10, 9) if ten_bit else (8, 8, 7)
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = frames
    ds.FrameTime = 40.0
    ds.add_new(0x00280009, "AT", [0x00181063])  # FrameIncrementPointer: FrameTime
    ds.LossyImageCompression = "01"
    cut = -(-len(stream) // fragments // 2) * 2  # fragments are even: only the last may carry a pad byte
    pieces = [stream[n: n + cut] for n in range(0, len(stream), cut)]
    ds.PixelData = encapsulate(pieces, has_bot=False)  # frames split across fragments are not addressable
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    return ds


def video_of(ds: Dataset) -> bytes:
    """The video stream of an instance: its fragments joined."""
    return b"".join(generate_fragments(ds.PixelData))


# ----------------------------------------------------------------------------------------- segmented LUTs


def segmented(segments: list[tuple], bits: int = 16) -> bytes:
    """Segmented LUT data (little endian) from ("discrete", [values]), ("linear", length, end value) and
    ("indirect", count, word offset) tuples."""
    words: list[int] = []
    for kind, *args in segments:
        if kind == "discrete":
            words += [0, len(args[0]), *args[0]]
        elif kind == "linear":
            words += [1, args[0], args[1]]
        elif kind == "indirect":
            count, offset = args
            words += [2, count]
            if bits == 16:
                words += [offset & 0xFFFF, offset >> 16]
            else:
                words += list(offset.to_bytes(4, "little"))
        else:  # a raw opcode, for malformed data
            words += [kind, *args]
    raw = np.asarray(words, dtype="<u2" if bits == 16 else "u1").tobytes()
    return raw + b"\0" * (len(raw) % 2)


def segmented_like(lut: np.ndarray) -> list[tuple]:
    """Segments that expand to exactly `lut`: linear segments wherever PS3.3's interpolation (rounded as pydicom
    rounds) reproduces a run of at least four entries, discrete segments elsewhere."""
    values = [int(v) for v in lut]
    segments: list[tuple] = [("discrete", values[:1])]
    n, pending = 1, []
    while n < len(values):
        run = _linear_run(values, n)
        if run >= 4:
            if pending:
                segments.append(("discrete", pending))
                pending = []
            segments.append(("linear", run, values[n + run - 1]))
            n += run
        else:
            pending.append(values[n])
            n += 1
    if pending:
        segments.append(("discrete", pending))
    return segments


def _linear_run(values: list[int], start: int) -> int:
    """The longest run from `start` that a linear segment from values[start - 1] reproduces exactly."""
    y0, best = values[start - 1], 0
    for end in range(start + 1, min(len(values), start + 255) + 1):
        length, y1 = end - start, values[end - 1]
        step = (y1 - y0) / length
        expected = [y1] * length if y0 == y1 else np.around(np.linspace(y0 + step, y1, length)).astype(int).tolist()
        if expected == values[start:end]:
            best = length
    return best


@functools.cache
def _segmented_sample_tables() -> tuple[bytes, ...]:
    """examples_palette.dcm's three tables as segments (found once: the search tries every ramp length)."""
    ds = sample("examples_palette.dcm")
    return tuple(segmented(segmented_like(np.frombuffer(ds[f"{colour}PaletteColorLookupTableData"].value, "<u2")))
                 for colour in ("Red", "Green", "Blue"))


def segmented_palette() -> Dataset:
    """pydicom's examples_palette.dcm (an ultrasound image) with fresh UIDs and its three real 256-entry tables
    sent segmented instead."""
    ds = with_fresh_uids(sample("examples_palette.dcm"))
    for colour, data in zip(("Red", "Green", "Blue"), _segmented_sample_tables(), strict=True):
        ds.add_new(f"Segmented{colour}PaletteColorLookupTableData", "OW", data)
        del ds[f"{colour}PaletteColorLookupTableData"]
    return ds
