"""The synthetic series generator: geometry, Hounsfield units, Part 10 round trip, UIDs and the CLI."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, main, mr_series, to_bytes, write_series
from mcc_local.phantoms import CT_LANDMARKS_MM, MR_LANDMARKS_MM
from pydicom.pixels import apply_rescale
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, MRImageStorage

LOCAL_DEV = Path(__file__).resolve().parents[2] / "local-dev"
THICKNESS = 2.5


@pytest.fixture(scope="module")
def ct() -> list[pydicom.Dataset]:
    return ct_series(Patient(), slices=16, rows=128, columns=128, slice_thickness=THICKNESS)


@pytest.fixture(scope="module")
def mr() -> list[pydicom.Dataset]:
    return mr_series(Patient(), slices=12, rows=128, columns=128)


def middle(series: list[pydicom.Dataset]) -> pydicom.Dataset:
    return series[len(series) // 2]


def sample(ds: pydicom.Dataset, values: np.ndarray, x_mm: float, y_mm: float) -> float:
    """Mean of the 3×3 pixels around patient point (x, y), located through the instance's own geometry."""
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    column = round((x_mm - float(ds.ImagePositionPatient[0])) / column_spacing)
    row = round((y_mm - float(ds.ImagePositionPatient[1])) / row_spacing)
    return float(values[row - 1: row + 2, column - 1: column + 2].mean())


def test_ct_slices_step_along_z_by_their_slice_thickness(ct):
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in ct])
    assert np.allclose(np.diff(positions[:, 2]), THICKNESS)
    assert np.allclose(positions[:, :2], positions[0, :2])
    assert [ds.InstanceNumber for ds in ct] == list(range(1, len(ct) + 1))
    for ds, z in zip(ct, positions[:, 2], strict=True):
        assert float(ds.SliceThickness) == THICKNESS
        assert float(ds.SliceLocation) == pytest.approx(z)
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert ds.PixelSpacing[0] == ds.PixelSpacing[1]


def test_ct_image_is_centred_on_the_patient_axis(ct):
    ds = ct[0]
    spacing = float(ds.PixelSpacing[0])
    x0, y0, _ = (float(v) for v in ds.ImagePositionPatient)
    assert x0 + (ds.Columns - 1) * spacing == pytest.approx(-x0)
    assert y0 + (ds.Rows - 1) * spacing == pytest.approx(-y0)


@pytest.mark.parametrize("landmark, low, high", [
    ("air", -1024, -950),
    ("fat", -150, -50),
    ("soft_tissue", 0, 80),
    ("right_lung", -950, -750),
    ("left_lung", -950, -750),
    ("vertebra", 700, 1000),
])
def test_ct_pixels_rescale_to_the_hounsfield_units_of_their_tissue(ct, landmark, low, high):
    ds = middle(ct)
    hu = apply_rescale(ds.pixel_array, ds)
    assert low <= sample(ds, hu, *CT_LANDMARKS_MM[landmark]) <= high


def test_ct_stored_values_are_unsigned_12_bit_hu_plus_1024(ct):
    ds = middle(ct)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
    assert (float(ds.RescaleSlope), float(ds.RescaleIntercept), ds.RescaleType) == (1.0, -1024.0, "HU")
    assert ds.pixel_array.dtype == np.uint16 and int(ds.pixel_array.max()) < 2**12
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert list(ds.WindowCenter) == [40, -600] and list(ds.WindowWidth) == [400, 1500]


def test_ct_anatomy_changes_from_slice_to_slice(ct):
    def lung_pixels(ds):
        hu = apply_rescale(ds.pixel_array, ds)
        return int(((hu > -950) & (hu < -600)).sum())

    bottom, centre, top = lung_pixels(ct[0]), lung_pixels(middle(ct)), lung_pixels(ct[-1])
    assert bottom == 0  # the liver, below the lungs
    assert centre > top > 0
    assert not np.array_equal(ct[0].pixel_array, ct[1].pixel_array)


def test_ct_instances_carry_the_patient_and_every_required_attribute(ct):
    patient = Patient()
    required = [
        "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID",
        "ReferringPhysicianName", "AccessionNumber", "InstitutionName", "Modality", "SeriesNumber",
        "InstanceNumber", "Manufacturer", "ImageType", "PositionReferenceIndicator", "PatientPosition",
        "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "KVP",
        "AcquisitionNumber", "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
        "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "RescaleIntercept", "RescaleSlope",
        "PixelData",
    ]
    ds = middle(ct)
    assert [keyword for keyword in required if keyword not in ds] == []
    assert ds.SOPClassUID == CTImageStorage and ds.Modality == "CT"
    assert (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate, ds.PatientSex) == (
        patient.name, patient.patient_id, patient.birth_date, patient.sex)
    assert (str(ds.ReferringPhysicianName), ds.InstitutionName, ds.AccessionNumber) == (
        patient.referring_physician, patient.institution, patient.accession)


def test_uids_are_shared_within_a_series_and_unique_per_instance(ct):
    assert len({ds.StudyInstanceUID for ds in ct}) == 1
    assert len({ds.SeriesInstanceUID for ds in ct}) == 1
    assert len({ds.FrameOfReferenceUID for ds in ct}) == 1
    assert len({ds.SOPInstanceUID for ds in ct}) == len(ct)
    for ds in ct:
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            assert UID(ds[keyword].value).is_valid


def test_a_series_regenerated_with_its_uids_has_the_same_instances():
    first = ct_series(Patient(), slices=3, rows=32, columns=32, seed=7)
    again = ct_series(Patient(), slices=3, rows=32, columns=32, seed=7, study_uid=first[0].StudyInstanceUID,
                      series_uid=first[0].SeriesInstanceUID)
    assert [to_bytes(ds) for ds in again] == [to_bytes(ds) for ds in first]


def test_series_of_one_study_share_its_uid_but_not_their_series_uid():
    ct = ct_series(Patient(), slices=2, rows=32, columns=32)
    mr = mr_series(Patient(), slices=2, rows=32, columns=32, study_uid=ct[0].StudyInstanceUID, series_number=2)
    assert mr[0].StudyInstanceUID == ct[0].StudyInstanceUID
    assert mr[0].SeriesInstanceUID != ct[0].SeriesInstanceUID


def test_instances_round_trip_through_part10_bytes(ct):
    ds = middle(ct)
    data = to_bytes(ds)
    assert data[128:132] == b"DICM"
    read = pydicom.dcmread(io.BytesIO(data), force=False)
    assert read.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert read.SOPInstanceUID == ds.SOPInstanceUID
    assert [float(v) for v in read.ImagePositionPatient] == [float(v) for v in ds.ImagePositionPatient]
    assert np.array_equal(read.pixel_array, ds.pixel_array)


def test_accented_patient_names_survive_the_round_trip():
    ds = ct_series(Patient(name="MÜLLER^JOSÉ"), slices=1, rows=16, columns=16)[0]
    read = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
    assert str(read.PatientName) == "MÜLLER^JOSÉ"


def test_mr_series_is_a_brain_without_rescale(mr):
    ds = middle(mr)
    assert ds.SOPClassUID == MRImageStorage and ds.Modality == "MR"
    assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds
    for keyword in ("ScanningSequence", "SequenceVariant", "MRAcquisitionType", "EchoTime", "RepetitionTime"):
        assert keyword in ds
    pixels = ds.pixel_array.astype(float)
    background = sample(ds, pixels, *MR_LANDMARKS_MM["background"])
    white_matter = sample(ds, pixels, *MR_LANDMARKS_MM["white_matter"])
    ventricle = sample(ds, pixels, *MR_LANDMARKS_MM["ventricle"])
    assert background < 100 < ventricle < white_matter


def test_mr_slices_step_along_z_by_their_slice_thickness(mr):
    z = [float(ds.ImagePositionPatient[2]) for ds in mr]
    assert np.allclose(np.diff(z), float(mr[0].SliceThickness))


@pytest.mark.parametrize("arguments, named", [
    ({"slices": 0}, "slices"),
    ({"rows": 4}, "rows"),
    ({"study_date": "2026-01-15"}, "study_date"),
    ({"study_uid": "1.2.03"}, "study_uid"),
    ({"patient": Patient(sex="X")}, "sex"),
])
def test_invalid_arguments_are_refused_naming_them(arguments, named):
    patient = arguments.pop("patient", Patient())
    with pytest.raises(ValueError, match=named):
        ct_series(patient, **arguments)


def test_each_modality_gives_its_own_defaults_to_what_is_not_asked():
    ct = ct_series(Patient(), rows=8, columns=8)
    mr = mr_series(Patient(), rows=8, columns=8)
    assert (len(ct), float(ct[0].SliceThickness), "SpacingBetweenSlices" in ct[0]) == (64, 2.5, False)
    assert (len(mr), float(mr[0].SliceThickness), float(mr[0].SpacingBetweenSlices)) == (24, 5.0, 5.0)
    assert ct[0].StudyDate == mr[0].StudyDate == "20260115"


def test_write_series_writes_one_readable_file_per_instance(tmp_path, ct):
    paths = write_series(ct[:4], tmp_path / "series")
    assert [path.name for path in paths] == [f"CT001_{n:04d}.dcm" for n in range(1, 5)]
    assert [pydicom.dcmread(path).SOPInstanceUID for path in paths] == [ds.SOPInstanceUID for ds in ct[:4]]
    assert write_series(ct[:4], tmp_path / "series") == paths  # rewriting is idempotent


def test_cli_writes_the_requested_number_of_files(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--modality", "MR", "--slices", "5", "--rows", "32", "--columns", "32",
                 "--patient-name", "ROE^RICHARD", "--patient-id", "MCC-0042"]) == 0
    files = sorted(tmp_path.glob("*.dcm"))
    assert len(files) == 5
    ds = pydicom.dcmread(files[0])
    assert (str(ds.PatientName), ds.PatientID, ds.Modality) == ("ROE^RICHARD", "MCC-0042", "MR")
    assert "wrote 5 MR instances" in capsys.readouterr().out


def test_cli_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mcc_local.dicomgen", "--out", str(tmp_path), "--slices", "3", "--rows", "16",
         "--columns", "16"],
        cwd=LOCAL_DEV, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("CT001_*.dcm"))) == 3


def test_cli_refuses_a_bad_argument_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(tmp_path), "--slices", "0"])
    assert exit_.value.code == 2
    assert "slices must be at least 1" in capsys.readouterr().err
