"""Synthetic CT and MR series for the demo study, benchmarks and tests.

The anatomy comes from `mcc_local.phantoms`; this module wraps it in DICOM with pydicom: correct patient
geometry, a Hounsfield-unit rescale for CT, the patient, study and equipment modules. Instance UIDs derive
from the series UID, so regenerating a series with the same `series_uid` yields the same instances (uploads
are then idempotent). Crafted instances the gateway must refuse are the tests' own
(`tests/support/crafted_dicom.py`).

    python -m mcc_local.dicomgen --out DIR --modality CT --slices 200 --patient-name "DOE^JANE"
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
from pydicom import Dataset
from pydicom.config import disable_value_validation
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from .phantoms import ct_hounsfield, mr_t1_signal

__all__ = ["Patient", "SeriesOptions", "ct_series", "main", "mr_series", "to_bytes", "write_series"]

# Study-level constants: deterministic, so two runs with the same arguments give the same files.
STUDY_DATE = "20260115"
STUDY_TIME = "093000"
SERIES_TIME = "093500"
MANUFACTURER = "MedCloudCare"
MODEL = "dicomgen phantom"

CT_RESCALE_INTERCEPT = -1024


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
    # The phantom at height t (0 = most inferior slice, 1 = most superior), in stored units before rounding.
    stored_values: Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray]
    attributes: Mapping[str, object]  # the modality's own attributes, alike on every instance
    slices: int  # defaults of a series
    slice_thickness: float
    states_slice_spacing: bool = False  # SpacingBetweenSlices, which MR states
    bits_stored: int = 12


_CT = _Acquisition(
    modality="CT", sop_class=CTImageStorage, field_of_view_mm=400.0, study_description="CT CHEST",
    series_description="AXIAL 2.5mm SYNTHETIC", body_part="CHEST", image_type=("ORIGINAL", "PRIMARY", "AXIAL"),
    window=([40.0, -600.0], [400.0, 1500.0], ["SOFT TISSUE", "LUNG"]),
    stored_values=lambda xs, ys, t, rng: ct_hounsfield(xs, ys, t, rng) - CT_RESCALE_INTERCEPT,
    attributes={"KVP": "120", "XRayTubeCurrent": 200, "ConvolutionKernel": "STANDARD",
                "RescaleIntercept": str(CT_RESCALE_INTERCEPT), "RescaleSlope": "1", "RescaleType": "HU"},
    slices=64, slice_thickness=2.5,
)
_MR = _Acquisition(
    modality="MR", sop_class=MRImageStorage, field_of_view_mm=240.0, study_description="MR BRAIN",
    series_description="AX T1 SE SYNTHETIC", body_part="HEAD", image_type=("ORIGINAL", "PRIMARY", "M", "ND"),
    window=([500.0], [1000.0], ["T1"]),
    stored_values=mr_t1_signal,
    attributes={"ScanningSequence": "SE", "SequenceVariant": "NONE", "ScanOptions": "", "MRAcquisitionType": "2D",
                "SequenceName": "se2d1", "RepetitionTime": "500", "EchoTime": "15", "EchoTrainLength": "1",
                "NumberOfAverages": "1", "ImagingFrequency": "63.87", "ImagedNucleus": "1H",
                "MagneticFieldStrength": "1.5", "FlipAngle": "90"},
    slices=24, slice_thickness=5.0, states_slice_spacing=True,
)


class SeriesOptions(TypedDict, total=False):
    """How a series is generated besides its patient; what is not given takes the modality's default."""

    slices: int  # CT 64, MR 24
    rows: int  # 256 (8 to 4096)
    columns: int  # 256 (8 to 4096)
    study_uid: str | None  # join an existing study (default: a new one)
    series_uid: str | None  # fixed: regenerating yields the same instances (default: a new one)
    study_date: str  # YYYYMMDD, STUDY_DATE
    seed: int  # of the noise, 0
    slice_thickness: float  # mm: CT 2.5, MR 5
    series_number: int  # 1


# ----------------------------------------------------------------------------------------------- series


def ct_series(patient: Patient, **options: Unpack[SeriesOptions]) -> list[Dataset]:
    """An axial chest CT: body, subcutaneous fat, lungs, heart, liver, aorta, ribs and spine, stored as HU + 1024."""
    return _series(patient, _CT, **options)


def mr_series(patient: Patient, **options: Unpack[SeriesOptions]) -> list[Dataset]:
    """An axial T1-weighted brain MR: scalp, skull, CSF, grey and white matter, ventricles and orbits."""
    return _series(patient, _MR, **options)


def _series(
    patient: Patient,
    acquisition: _Acquisition,
    *,
    slices: int | None = None,
    rows: int = 256,
    columns: int = 256,
    study_uid: str | None = None,
    series_uid: str | None = None,
    study_date: str = STUDY_DATE,
    seed: int = 0,
    slice_thickness: float | None = None,
    series_number: int = 1,
) -> list[Dataset]:
    slices = acquisition.slices if slices is None else slices
    slice_thickness = acquisition.slice_thickness if slice_thickness is None else slice_thickness
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
    largest = 2**acquisition.bits_stored - 1

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
        pixels = np.clip(np.rint(acquisition.stored_values(xs, ys, t, rng)), 0, largest).astype(np.uint16)
        ds.set_pixel_data(pixels, "MONOCHROME2", acquisition.bits_stored, generate_instance_uid=False)
        ds.WindowCenter, ds.WindowWidth, ds.WindowCenterWidthExplanation = acquisition.window
        for keyword, value in acquisition.attributes.items():
            setattr(ds, keyword, value)
        if acquisition.states_slice_spacing:
            ds.SpacingBetweenSlices = f"{slice_thickness:g}"
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


# ------------------------------------------------------------------------------------------------ output


def to_bytes(ds: Dataset) -> bytes:
    """The instance as a DICOM Part 10 file (preamble, DICM, file meta, data set)."""
    buffer = DicomBytesIO()
    with disable_value_validation():  # write what it is given: the tests' crafted instances are invalid on purpose
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
    parser.add_argument("--study-date", default=STUDY_DATE, help="YYYYMMDD")
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
