"""Synthetic CT and MR series for tests, benchmarks and the demo study, and crafted instances that must be refused.

Series are phantoms built with pydicom: correct patient geometry, Hounsfield-unit rescale for CT and
anatomy-like structures that change from slice to slice, so a viewer shows something recognisable.
Instance UIDs derive from the series UID, so regenerating a series with the same `series_uid` yields
the same instances (uploads are then idempotent).

    python -m mcc_local.dicomgen --out DIR --modality CT --slices 200 --patient-name "DOE^JANE"
"""

from __future__ import annotations

import argparse
import copy
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.config import disable_value_validation
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.filebase import DicomBytesIO
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

__all__ = [
    "CRAFTED_DATASETS",
    "CT_LANDMARKS_MM",
    "MR_LANDMARKS_MM",
    "Patient",
    "crafted_deflated",
    "crafted_frames_exceed_fragments",
    "crafted_frames_exceed_offset_table",
    "crafted_huge_dimensions",
    "crafted_huge_frame_count",
    "crafted_invalid_uid",
    "crafted_missing_sop_instance_uid",
    "crafted_not_dicom_file",
    "crafted_palette_descriptors_disagree",
    "crafted_palette_lut_too_short",
    "crafted_pixel_data_too_long",
    "crafted_pixel_data_too_short",
    "crafted_truncated_file",
    "ct_series",
    "main",
    "mr_series",
    "palette_slice",
    "rle_slice",
    "to_bytes",
    "write_series",
]

# Study-level constants: deterministic, so two runs with the same arguments give the same files.
STUDY_TIME = "093000"
SERIES_TIME = "093500"
MANUFACTURER = "MedCloudCare"
MODEL = "dicomgen phantom"

CT_RESCALE_INTERCEPT = -1024
CT_FIELD_OF_VIEW_MM = 400.0
MR_FIELD_OF_VIEW_MM = 240.0

# Where structures sit in patient coordinates (LPS, mm) on the middle slices of a series; tests sample here.
CT_LANDMARKS_MM: dict[str, tuple[float, float]] = {
    "air": (0.0, -180.0),
    "fat": (0.0, -109.0),
    "soft_tissue": (0.0, -90.0),
    "right_lung": (-85.0, 0.0),
    "left_lung": (85.0, 0.0),
    "vertebra": (0.0, 80.0),
}
MR_LANDMARKS_MM: dict[str, tuple[float, float]] = {
    "background": (0.0, -115.0),
    "white_matter": (-30.0, 20.0),
    "ventricle": (12.0, -5.0),
}


@dataclass(frozen=True)
class Patient:
    """Who a generated study belongs to: every identifying attribute the gateway must pseudonymise."""

    name: str = "DOE^JANE"
    patient_id: str = "MCC-0001"
    birth_date: str = "19700101"
    sex: str = "F"
    referring_physician: str = "WHO^DR"
    institution: str = "MedCloudCare Demo Hospital"
    accession: str = "ACC0001"
    other_patient_ids: str = "MRN-0001"
    performing_physician: str = "HOUSE^GREGORY"
    institution_address: str = "1 Imaging Way, Demo City"


@dataclass(frozen=True)
class _Acquisition:
    """What differs between a CT and an MR series; the rest of the builder is shared."""

    modality: str
    sop_class: str
    field_of_view_mm: float
    study_description: str
    series_description: str
    body_part: str
    image_type: tuple[str, ...]
    window: tuple[list[float], list[float], list[str]]
    bits_stored: int = 12


# ----------------------------------------------------------------------------------------------- series


def ct_series(
    patient: Patient,
    *,
    slices: int = 64,
    rows: int = 256,
    columns: int = 256,
    study_uid: str | None = None,
    series_uid: str | None = None,
    study_date: str = "20260115",
    seed: int = 0,
    slice_thickness: float = 2.5,
    series_number: int = 1,
) -> list[Dataset]:
    """An axial chest CT: body, subcutaneous fat, lungs, heart, liver, aorta, ribs and spine, stored as HU + 1024."""
    acquisition = _Acquisition(
        modality="CT",
        sop_class=CTImageStorage,
        field_of_view_mm=CT_FIELD_OF_VIEW_MM,
        study_description="CT CHEST",
        series_description="AXIAL 2.5mm SYNTHETIC",
        body_part="CHEST",
        image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
        window=([40.0, -600.0], [400.0, 1500.0], ["SOFT TISSUE", "LUNG"]),
    )

    def pixels(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        hu = _ct_hounsfield(xs, ys, t, rng)
        return np.clip(np.rint(hu - CT_RESCALE_INTERCEPT), 0, 2**acquisition.bits_stored - 1).astype(np.uint16)

    def ct_attributes(ds: Dataset) -> None:
        ds.KVP = "120"
        ds.XRayTubeCurrent = 200
        ds.ConvolutionKernel = "STANDARD"
        ds.RescaleIntercept = str(CT_RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"

    return _series(
        patient, acquisition, pixels, ct_attributes,
        slices=slices, rows=rows, columns=columns, study_uid=study_uid, series_uid=series_uid,
        study_date=study_date, seed=seed, slice_thickness=slice_thickness, series_number=series_number,
    )


def mr_series(
    patient: Patient,
    *,
    slices: int = 24,
    rows: int = 256,
    columns: int = 256,
    study_uid: str | None = None,
    series_uid: str | None = None,
    study_date: str = "20260115",
    seed: int = 0,
    slice_thickness: float = 5.0,
    series_number: int = 1,
) -> list[Dataset]:
    """An axial T1-weighted brain MR: scalp, skull, CSF, grey and white matter, ventricles and orbits."""
    acquisition = _Acquisition(
        modality="MR",
        sop_class=MRImageStorage,
        field_of_view_mm=MR_FIELD_OF_VIEW_MM,
        study_description="MR BRAIN",
        series_description="AX T1 SE SYNTHETIC",
        body_part="HEAD",
        image_type=("ORIGINAL", "PRIMARY", "M", "ND"),
        window=([500.0], [1000.0], ["T1"]),
    )

    def pixels(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
        signal = _mr_t1_signal(xs, ys, t, rng)
        return np.clip(np.rint(signal), 0, 2**acquisition.bits_stored - 1).astype(np.uint16)

    def mr_attributes(ds: Dataset) -> None:
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.SequenceName = "se2d1"
        ds.RepetitionTime = "500"
        ds.EchoTime = "15"
        ds.EchoTrainLength = "1"
        ds.NumberOfAverages = "1"
        ds.ImagingFrequency = "63.87"
        ds.ImagedNucleus = "1H"
        ds.MagneticFieldStrength = "1.5"
        ds.SpacingBetweenSlices = f"{slice_thickness:g}"
        ds.FlipAngle = "90"

    return _series(
        patient, acquisition, pixels, mr_attributes,
        slices=slices, rows=rows, columns=columns, study_uid=study_uid, series_uid=series_uid,
        study_date=study_date, seed=seed, slice_thickness=slice_thickness, series_number=series_number,
    )


def _series(
    patient: Patient,
    acquisition: _Acquisition,
    pixels: Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray],
    modality_attributes: Callable[[Dataset], None],
    *,
    slices: int,
    rows: int,
    columns: int,
    study_uid: str | None,
    series_uid: str | None,
    study_date: str,
    seed: int,
    slice_thickness: float,
    series_number: int,
) -> list[Dataset]:
    _validate_arguments(patient, slices=slices, rows=rows, columns=columns, study_date=study_date,
                        slice_thickness=slice_thickness, study_uid=study_uid, series_uid=series_uid)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_of_reference_uid = generate_uid(entropy_srcs=[series_uid, "frame-of-reference"])

    spacing = acquisition.field_of_view_mm / max(rows, columns)
    x0 = -(columns - 1) / 2 * spacing  # centre of the first pixel, so the body sits mid-image
    y0 = -(rows - 1) / 2 * spacing
    xs = x0 + spacing * np.arange(columns)  # patient x (mm) of each column, y of each row
    ys = y0 + spacing * np.arange(rows)
    z0 = -(slices - 1) / 2 * slice_thickness
    rng = np.random.default_rng(seed)

    series = []
    for index in range(slices):
        t = index / (slices - 1) if slices > 1 else 0.5  # 0 = most inferior slice, 1 = most superior
        z = z0 + index * slice_thickness
        ds = _instance_header(patient, acquisition, study_uid=study_uid, series_uid=series_uid,
                              sop_uid=generate_uid(entropy_srcs=[series_uid, str(index + 1)]),
                              study_date=study_date, series_number=series_number)
        ds.InstanceNumber = index + 1
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [round(x0, 4), round(y0, 4), round(z, 4)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [round(spacing, 6), round(spacing, 6)]
        ds.SliceThickness = f"{slice_thickness:g}"
        ds.SliceLocation = round(z, 4)
        ds.set_pixel_data(pixels(xs, ys, t, rng), "MONOCHROME2", acquisition.bits_stored,
                          generate_instance_uid=False)
        centres, widths, explanations = acquisition.window
        ds.WindowCenter = centres
        ds.WindowWidth = widths
        ds.WindowCenterWidthExplanation = explanations
        modality_attributes(ds)
        series.append(ds)
    return series


def _instance_header(
    patient: Patient, acquisition: _Acquisition, *, study_uid: str, series_uid: str, sop_uid: str,
    study_date: str, series_number: int,
) -> Dataset:
    """File meta, SOP common, patient, study, series and equipment modules of one instance."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = acquisition.sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: accented names survive
    ds.ImageType = list(acquisition.image_type)
    ds.SOPClassUID = acquisition.sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study_date
    ds.StudyTime = STUDY_TIME
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = SERIES_TIME
    ds.AccessionNumber = patient.accession
    ds.Modality = acquisition.modality
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL
    ds.InstitutionName = patient.institution
    ds.InstitutionAddress = patient.institution_address
    ds.ReferringPhysicianName = patient.referring_physician
    ds.PerformingPhysicianName = patient.performing_physician
    ds.StudyDescription = acquisition.study_description
    ds.SeriesDescription = acquisition.series_description
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    if patient.other_patient_ids:
        ds.OtherPatientIDs = patient.other_patient_ids
    ds.BodyPartExamined = acquisition.body_part
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1
    ds.ImageComments = "Synthetic phantom generated by mcc_local.dicomgen, not a patient"
    return ds


_DATE = re.compile(r"\d{8}")


def _validate_arguments(
    patient: Patient, *, slices: int, rows: int, columns: int, study_date: str, slice_thickness: float,
    study_uid: str | None, series_uid: str | None,
) -> None:
    if slices < 1:
        raise ValueError(f"slices must be at least 1, not {slices}")
    for name, value in (("rows", rows), ("columns", columns)):
        if not 8 <= value <= 4096:
            raise ValueError(f"{name} must be between 8 and 4096, not {value}")
    if not slice_thickness > 0:
        raise ValueError(f"slice_thickness must be positive, not {slice_thickness}")
    if not _DATE.fullmatch(study_date):
        raise ValueError(f"study_date must be YYYYMMDD, not {study_date!r}")
    if patient.birth_date and not _DATE.fullmatch(patient.birth_date):
        raise ValueError(f"Patient.birth_date must be YYYYMMDD or empty, not {patient.birth_date!r}")
    if patient.sex not in ("M", "F", "O", ""):
        raise ValueError(f"Patient.sex must be M, F, O or empty, not {patient.sex!r}")
    for name, uid in (("study_uid", study_uid), ("series_uid", series_uid)):
        if uid is not None and not _is_valid_uid(uid):
            raise ValueError(f"{name} {uid!r} is not a valid UID (digits and dots, at most 64 characters)")


def _is_valid_uid(uid: str) -> bool:
    return len(uid) <= 64 and re.fullmatch(r"(0|[1-9]\d*)(\.(0|[1-9]\d*))*", uid) is not None


# ---------------------------------------------------------------------------------------------- phantoms


def _fill(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, centre: tuple[float, float],
          semi_axes: tuple[float, float], value: float) -> None:
    """Set value inside an axis-aligned ellipse (mm), touching only its bounding box: 200 slices stay fast."""
    (cx, cy), (ax, ay) = centre, semi_axes
    if ax <= 0 or ay <= 0:
        return
    c0, c1 = np.searchsorted(xs, cx - ax), np.searchsorted(xs, cx + ax, side="right")
    r0, r1 = np.searchsorted(ys, cy - ay), np.searchsorted(ys, cy + ay, side="right")
    inside = ((xs[None, c0:c1] - cx) / ax) ** 2 + ((ys[r0:r1, None] - cy) / ay) ** 2 <= 1.0
    image[r0:r1, c0:c1][inside] = value


def _profile(t: float, centre: float, half_width: float) -> float:
    """How large a structure is at relative height t: 1 at its centre, 0 beyond half_width."""
    return math.sqrt(max(0.0, 1.0 - ((t - centre) / half_width) ** 2))


def _ct_hounsfield(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    hu = np.full((len(ys), len(xs)), -1000.0, dtype=np.float32)

    def fill(centre: tuple[float, float], semi_axes: tuple[float, float], value: float) -> None:
        _fill(hu, xs, ys, centre, semi_axes, value)

    fill((0, 10), (170, 125), -100)  # subcutaneous fat
    fill((0, 10), (158, 113), 40)  # muscle and mediastinum
    liver = _profile(t, 0.1, 0.3)
    fill((-70, -10), (80 * liver, 70 * liver), 60)
    lungs = _profile(t, 0.62, 0.4)
    for side in (-1, 1):
        fill((85 * side, 0), (55 * lungs, 80 * lungs), -850)
    heart = _profile(t, 0.45, 0.22)
    fill((25, -35), (55 * heart, 45 * heart), 45)
    fill((20, 50), (13, 13), 45)  # descending aorta
    if lungs > 0:
        for angle in (200, 220, 240, 300, 320, 340, 20, 40, 140, 160):  # rib cross-sections
            theta = math.radians(angle)
            fill((150 * math.cos(theta), 10 + 105 * math.sin(theta)), (5, 5), 900)
    fill((0, 80), (18, 18), 1300)  # vertebral body: cortex ...
    fill((0, 80), (15, 15), 800)  # ... around cancellous bone
    fill((0, 108), (7, 7), 15)  # spinal canal
    fill((0, 122), (4, 9), 1000)  # spinous process
    hu += rng.standard_normal(hu.shape, dtype=np.float32) * 8.0
    return hu


def _mr_t1_signal(xs: np.ndarray, ys: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    signal = np.zeros((len(ys), len(xs)), dtype=np.float32)

    def fill(centre: tuple[float, float], semi_axes: tuple[float, float], value: float) -> None:
        _fill(signal, xs, ys, centre, semi_axes, value)

    head = _profile(t, 0.4, 0.75)
    ax, ay = 72 * head, 92 * head
    for shrink, value in ((0, 900), (5, 60), (11, 250), (13, 560), (20, 780)):  # scalp, skull, CSF, grey, white
        fill((0, 0), (ax - shrink, ay - shrink), value)
    ventricles = _profile(t, 0.55, 0.2)
    for side in (-1, 1):
        fill((12 * side, -5), (6 * ventricles, 22 * ventricles), 250)
    orbits = _profile(t, 0.0, 0.2)
    for side in (-1, 1):
        fill((32 * side, -70), (12 * orbits, 12 * orbits), 150)
    signal += rng.standard_normal(signal.shape, dtype=np.float32) * 15.0
    return np.abs(signal)  # magnitude images: Rician background


# ------------------------------------------------------------------------------------------------ output


def to_bytes(ds: Dataset) -> bytes:
    """The instance as a DICOM Part 10 file (preamble, DICM, file meta, data set)."""
    buffer = DicomBytesIO()
    with disable_value_validation():  # write what it is given: crafted instances carry invalid values on purpose
        ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_series(datasets: Iterable[Dataset], directory: Path | str) -> list[Path]:
    """Write each instance as `<modality><series>_<instance>.dcm` under directory; rewriting is idempotent."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, ds in enumerate(datasets, start=1):
        name = f"{ds.get('Modality', 'OT')}{int(ds.get('SeriesNumber', 0)):03d}_" \
               f"{int(ds.get('InstanceNumber', position)):04d}.dcm"
        path = directory / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------- crafted instances
# Each helper derives a new instance from a valid CT slice and leaves the original untouched.


def _derived(base: Dataset, label: str) -> Dataset:
    """A deep copy of base with its own SOPInstanceUID, so it never collides with base in an archive."""
    ds = copy.deepcopy(base)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(
        entropy_srcs=[str(base.SOPInstanceUID), label])
    return ds


def palette_slice(base: Dataset) -> Dataset:
    """A valid 8-bit PALETTE COLOR Secondary Capture of a CT slice (soft-tissue window, hot-iron-like LUT)."""
    ds = _derived(base, "palette")
    hu = base.pixel_array.astype(np.float32) * float(base.RescaleSlope) + float(base.RescaleIntercept)
    indices = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth",
                    "WindowCenterWidthExplanation"):
        delattr(ds, keyword)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.ConversionType = "WSD"
    ds.set_pixel_data(indices, "PALETTE COLOR", 8, generate_instance_uid=False)
    ramp = np.arange(256, dtype=np.float64) / 255.0
    for colour, curve in (("Red", ramp * 3), ("Green", ramp * 3 - 1), ("Blue", ramp * 3 - 2)):
        _set_palette(ds, colour, [256, 0, 16], (np.clip(curve, 0, 1) * 65535).astype("<u2").tobytes())
    return ds


def _set_palette(ds: Dataset, colour: str, descriptor: list[int], data: bytes) -> None:
    # The descriptors' dictionary VR is "US or SS"; US is right for unsigned pixels.
    ds.add_new(f"{colour}PaletteColorLookupTableDescriptor", "US", descriptor)
    ds.add_new(f"{colour}PaletteColorLookupTableData", "OW", data)


def rle_slice(base: Dataset, *, has_offset_table: bool = True) -> Dataset:
    """A valid RLE Lossless (encapsulated) copy of a CT slice, one fragment for its one frame."""
    ds = _derived(base, f"rle-{has_offset_table}")
    ds.compress(RLELossless, generate_instance_uid=False)
    frames = list(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate(frames, has_bot=has_offset_table)
    return ds


def crafted_pixel_data_too_short(base: Dataset) -> Dataset:
    """PixelData holds half the bytes Rows × Columns × … promise: a decoder reading a frame over-reads."""
    ds = _derived(base, "short")
    ds.PixelData = bytes(ds.PixelData[: len(ds.PixelData) // 2])
    return ds


def crafted_pixel_data_too_long(base: Dataset) -> Dataset:
    """PixelData holds 1 KiB more than Rows × Columns × … account for."""
    ds = _derived(base, "long")
    ds.PixelData = bytes(ds.PixelData) + bytes(1024)
    return ds


def crafted_huge_dimensions(base: Dataset) -> Dataset:
    """Rows and Columns claim 65535 × 65535 (8 GiB per frame) over 64 bytes of data."""
    ds = _derived(base, "huge-dimensions")
    ds.Rows = ds.Columns = 65535
    ds.PixelData = bytes(64)
    return ds


def crafted_huge_frame_count(base: Dataset) -> Dataset:
    """NumberOfFrames claims 2^31 - 1 frames over one frame of data."""
    ds = _derived(base, "huge-frames")
    ds.NumberOfFrames = 2**31 - 1
    return ds


def crafted_palette_lut_too_short(base: Dataset) -> Dataset:
    """PALETTE COLOR whose descriptors declare 256 entries while the red LUT data holds 16."""
    ds = palette_slice(_derived(base, "palette-short"))
    ds.RedPaletteColorLookupTableData = bytes(ds.RedPaletteColorLookupTableData[:32])
    return ds


def crafted_palette_descriptors_disagree(base: Dataset) -> Dataset:
    """PALETTE COLOR whose green descriptor declares 4096 entries, the red and blue ones 256."""
    ds = palette_slice(_derived(base, "palette-disagree"))
    ds.GreenPaletteColorLookupTableDescriptor = [4096, 0, 16]
    return ds


def crafted_frames_exceed_offset_table(base: Dataset) -> Dataset:
    """RLE instance claiming 8 frames while its Basic Offset Table and fragments hold 1."""
    ds = rle_slice(_derived(base, "frames-bot"), has_offset_table=True)
    ds.NumberOfFrames = 8
    return ds


def crafted_frames_exceed_fragments(base: Dataset) -> Dataset:
    """RLE instance with an empty Basic Offset Table claiming 8 frames over 1 fragment."""
    ds = rle_slice(_derived(base, "frames-fragments"), has_offset_table=False)
    ds.NumberOfFrames = 8
    return ds


def crafted_deflated(base: Dataset) -> Dataset:
    """Deflated Explicit VR Little Endian: to_bytes compresses it; inflating untrusted input is a zip bomb risk."""
    ds = _derived(base, "deflated")
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


def crafted_missing_sop_instance_uid(base: Dataset) -> Dataset:
    """No SOPInstanceUID in the data set (the file meta still names one)."""
    ds = _derived(base, "missing-uid")
    del ds.SOPInstanceUID
    return ds


def crafted_invalid_uid(base: Dataset, *, uid: str = "1.2.826.0.1.3680043.8.498.0123") -> Dataset:
    """A SOPInstanceUID with a leading zero in a component, which PS3.5 §9.1 forbids."""
    ds = _derived(base, "invalid-uid")
    del ds.SOPInstanceUID, ds.file_meta.MediaStorageSOPInstanceUID  # elements keep the mode they were made with
    with disable_value_validation():  # an invalid UID is the point
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
    return ds


CRAFTED_DATASETS: dict[str, Callable[[Dataset], Dataset]] = {
    "pixel_data_too_short": crafted_pixel_data_too_short,
    "pixel_data_too_long": crafted_pixel_data_too_long,
    "huge_dimensions": crafted_huge_dimensions,
    "huge_frame_count": crafted_huge_frame_count,
    "palette_lut_too_short": crafted_palette_lut_too_short,
    "palette_descriptors_disagree": crafted_palette_descriptors_disagree,
    "frames_exceed_offset_table": crafted_frames_exceed_offset_table,
    "frames_exceed_fragments": crafted_frames_exceed_fragments,
    "deflated": crafted_deflated,
    "missing_sop_instance_uid": crafted_missing_sop_instance_uid,
    "invalid_uid": crafted_invalid_uid,
}


def crafted_not_dicom_file() -> bytes:
    """A PNG signature and zeros: no DICM prefix at offset 128."""
    return b"\x89PNG\r\n\x1a\n" + bytes(248)


def crafted_truncated_file(base: Dataset) -> bytes:
    """The Part 10 bytes of base cut in the middle of its PixelData, as an interrupted upload leaves them."""
    data = to_bytes(base)
    return data[: len(data) - len(base.PixelData) // 2]


# --------------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Write one synthetic series to a directory and say where."""
    parser = argparse.ArgumentParser(prog="python -m mcc_local.dicomgen", description=main.__doc__)
    defaults = Patient()
    parser.add_argument("--out", required=True, type=Path, help="directory to write the .dcm files to")
    parser.add_argument("--modality", choices=("CT", "MR"), default="CT")
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--columns", type=int, default=256)
    parser.add_argument("--patient-name", default=defaults.name, help="DICOM PN, e.g. DOE^JANE")
    parser.add_argument("--patient-id", default=defaults.patient_id)
    parser.add_argument("--birth-date", default=defaults.birth_date, help="YYYYMMDD")
    parser.add_argument("--sex", default=defaults.sex, choices=("M", "F", "O", ""))
    parser.add_argument("--accession", default=defaults.accession)
    parser.add_argument("--study-date", default="20260115", help="YYYYMMDD")
    parser.add_argument("--study-uid", help="join an existing study (default: a new one)")
    parser.add_argument("--series-uid", help="fixed series UID: rerunning rewrites the same instances")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    args = parser.parse_args(argv)

    patient = Patient(name=args.patient_name, patient_id=args.patient_id, birth_date=args.birth_date,
                      sex=args.sex, accession=args.accession)
    make = ct_series if args.modality == "CT" else mr_series
    try:
        series = make(patient, slices=args.slices, rows=args.rows, columns=args.columns,
                      study_uid=args.study_uid, series_uid=args.series_uid, study_date=args.study_date,
                      seed=args.seed)
    except ValueError as e:
        parser.error(str(e))
    paths = write_series(series, args.out)
    print(f"wrote {len(paths)} {args.modality} instances to {args.out} "
          f"(StudyInstanceUID {series[0].StudyInstanceUID})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
