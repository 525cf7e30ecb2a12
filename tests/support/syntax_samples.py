"""Big endian and deflated instances for the transfer syntax tests: pydicom's bundled sample files with fresh
UIDs (so each test run stores new instances), a big endian file with nested binary values, and deflate bombs."""

from __future__ import annotations

import uuid
from io import BytesIO

import numpy as np
import pydicom
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, generate_uid

# pydicom's big endian samples (all in the wheel) and what each exercises.
BIG_ENDIAN_SAMPLES = [
    "MR_small_bigendian.dcm",  # 16-bit signed, OW
    "MR_small_expb.dcm",
    "rtdose_expb.dcm",  # 32-bit OW, 15 frames, nested sequences
    "liver_expb_1frame.dcm",  # 1-bit packed segmentation, OB, deep sequences
    "SC_rgb_small_odd_big_endian.dcm",  # 8-bit RGB in OW: swapped pairs, odd length padded
    "ExplVR_BigEnd.dcm",  # 8-bit RGB in OB
]
DEFLATED_SAMPLE = "image_dfl.dcm"
SWAPPED_VRS = {"OW": "u2", "OF": "f4", "OL": "u4", "OD": "f8", "OV": "u8"}


def fresh(name: str, *, patient_id: str | None = None) -> bytes:
    """A bundled sample with new Study, Series and SOP Instance UIDs (and PatientID), in its own syntax."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID = patient_id or f"SYN-{uuid.uuid4().hex[:8]}"
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def nested_big_endian() -> bytes:
    """CT_small.dcm in Explicit VR Big Endian with a sequence in a sequence holding FL, SS, US, FD, AT and OW."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientID = f"SYN-{uuid.uuid4().hex[:8]}"
    for _ in ds.iterall():  # decode every element read as little endian, so it is written as big endian
        pass
    inner = Dataset()
    inner.add_new(0x00700022, "FL", [1.5, -2.25, 3.0e5])  # GraphicData
    inner.add_new(0x00281041, "SS", -1)  # PixelIntensityRelationshipSign
    inner.add_new(0x00700401, "US", [1, 65535, 300])  # GraphicLayerRecommendedDisplayCIELabValue
    inner.add_new(0x00189087, "FD", 1000.5)  # DiffusionBValue
    inner.add_new(0x00280009, "AT", [0x00181063, 0x00200013])  # FrameIncrementPointer
    inner.add_new(0x00283002, "US", [4, 0, 16])  # LUTDescriptor
    inner.add_new(0x00283006, "OW", np.array([1, 2, 300, 65535], ">u2").tobytes())  # LUTData, big endian words
    outer = Dataset()
    outer.add_new(0x00700001, "SQ", Sequence([inner]))  # GraphicAnnotationSequence
    ds.add_new(0x00081140, "SQ", Sequence([outer]))  # ReferencedImageSequence
    ds.PixelData = np.frombuffer(ds.PixelData, "<i2").astype(">i2").tobytes()  # the writer does not swap OW
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def deflate_bomb(*, rows: int = 512, columns: int = 512) -> bytes:
    """A small deflated instance whose zero pixel data inflates far past 100× its size."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Rows, ds.Columns = rows, columns
    ds.PixelData = bytes(rows * columns * 2)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def truncated_deflated(name: str = DEFLATED_SAMPLE) -> bytes:
    """A deflated sample cut inside its deflate stream."""
    return fresh(name)[:-200]  # image_dfl.dcm's stream is 4,295 bytes and an 8-byte trailer


def sop_uid(data: bytes) -> str:
    """The SOP Instance UID of a Part 10 file (pydicom inflates a deflated one itself)."""
    return str(pydicom.dcmread(BytesIO(data), stop_before_pixels=True).SOPInstanceUID)


def same_attributes(original: Dataset, converted: Dataset, *, skip: frozenset[int] = frozenset()) -> list[str]:
    """Where two data sets differ, by value: binary values compared as the numbers they encode, in each one's
    byte order; sequences recursively; retired group lengths (which pydicom never writes) left out."""
    differences: list[str] = []
    little = (original.original_encoding[1] is not False, converted.original_encoding[1] is not False)
    _compare(original, converted, skip, little, "", differences)
    return differences


def _compare(a: Dataset, b: Dataset, skip: frozenset[int], little: tuple[bool, bool], path: str,
             out: list[str]) -> None:
    skip = skip | {tag for tag in (*a.keys(), *b.keys()) if tag.element == 0}
    if set(a.keys()) - skip != set(b.keys()) - skip:
        out.append(f"{path}: tags {sorted(set(a.keys()) ^ set(b.keys()))}")
        return
    for tag in a.keys():
        if tag in skip:
            continue
        x, y = a[tag], b[tag]
        where = f"{path}/{x.keyword or tag}"
        if x.VR != y.VR:
            out.append(f"{where}: VR {x.VR} != {y.VR}")
        elif x.VR == "SQ":
            if len(x.value) != len(y.value):
                out.append(f"{where}: {len(x.value)} items != {len(y.value)}")
            for n, (i, j) in enumerate(zip(x.value, y.value, strict=False)):
                _compare(i, j, skip, little, f"{where}[{n}]", out)
        elif x.VR in SWAPPED_VRS:
            kind = SWAPPED_VRS[x.VR]
            ax = np.frombuffer(x.value, "<>"[not little[0]] + kind)
            ay = np.frombuffer(y.value, "<>"[not little[1]] + kind)
            if not np.array_equal(ax, ay):
                out.append(f"{where}: binary values differ")
        elif x.value != y.value:
            out.append(f"{where}: {x.value!r} != {y.value!r}")
