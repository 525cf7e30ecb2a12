"""The PS3.15 Basic Profile as ingest applies it: every row of the table, the options, and the originals that
give each instance back byte for byte."""

from __future__ import annotations

import datetime as dt
import io

import pydicom
import pytest
from mcc_local.dicomgen import Patient, ct_series, to_bytes
from pydicom import Dataset
from pydicom.data import get_testdata_file
from pydicom.datadict import DicomDictionary, dictionary_VR
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from sqlalchemy import select

from functions.common.access.policy import may_store
from functions.common.dicom import deid_table, originals
from functions.common.dicom.deidentify import burned_in_flag, date_shift_days, deidentify
from functions.common.dicom.index import Study
from functions.common.dicom.ingest import Ingest
from functions.common.dicom.intake import pseudonymised
from functions.common.dicom.validation import parse_part10
from functions.common.security.audit import AuditEvent
from functions.common.security.crypto import keyed_hash

PSEUDONYMISED = {0x00100010, 0x00100020, 0x00080090, 0x00080050}
# Every row but the file meta's Media Storage SOP Instance UID (U: never in the data set; the byte-for-byte restores
# below show the file meta comes back as it was), and one attribute of each repeating-group row.
ROWS = sorted((t, c) for t, c in deid_table.ACTIONS.items() if t >> 16 != 0x0002) + [
    (0x60003000, "X"), (0x60004000, "X"), (0x50003000, "X")]
NUMERIC = {"US": 0xBEE, "SS": -1234, "UL": 0xBEEF01, "SL": -123456, "FL": 12.5, "FD": 1234.5625, "UV": 77, "SV": -77,
           "AT": 0x00091001}
BASE = {0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00100020, 0x00080060}


def _vr(tag: int) -> str:
    """The attribute's VR (the first of an ambiguous pair); LO for the few newer than pydicom's dictionary."""
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "LO"


def _marker(n: int) -> str:
    return f"QZMARK{n:04d}"


def _value(vr: str, n: int):
    """A value of the VR that holds the row's marker where the VR can."""
    marker = _marker(n)
    text = {"AE": marker, "CS": marker, "LO": marker, "LT": marker, "PN": f"{marker}^ROW", "SH": marker,
            "ST": marker, "UC": marker, "UT": marker, "UR": f"http://{marker.lower()}.example",
            "DA": "19720314", "DT": "19720314101500", "TM": "101500", "DS": "7.125", "IS": "424242",
            "AS": "089Y", "UI": f"1.2.826.0.1.3680043.8.498.{90000 + n}"}
    if vr in text:
        return text[vr]
    if vr in NUMERIC:
        return NUMERIC[vr]
    if vr == "SQ":
        return Sequence([_nested(n)])
    return (marker.encode() + b"\0" * 8)[:16]  # OB, OW, OF, OD, OL, OV, UN


def _nested(n: int) -> Dataset:
    """An item holding markers the profile takes out wherever they are: a name, a description, a private tag."""
    item = Dataset()
    item.PatientName = f"{_marker(n)}NESTEDNAME"
    item.StudyDescription = f"{_marker(n)}NESTEDDESC"
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.4242"
    item.add_new(0x00290010, "LO", "ACME PRIVATE")
    item.add_new(0x00291001, "LO", f"{_marker(n)}NESTEDPRIV")
    return item


def _instance(extra: dict[int, tuple[str, object]], *, patient_id: str = "QZPATIENT") -> bytes:
    """A Part 10 file of a small valid instance with the given (tag: (VR, value)) elements."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.Modality = patient_id, "OT"
    ds.BurnedInAnnotation = "NO"
    for tag, (vr, value) in extra.items():
        ds.add_new(tag, vr, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _stored(data: bytes) -> bytes:
    """The file as the archive would store it without the profile (after parse_part10's syntax conversion)."""
    out = io.BytesIO()
    parse_part10(data).save_as(out, enforce_file_format=True)
    return out.getvalue()


def _restored(archived: bytes, taken: originals.Originals) -> bytes:
    """The archive's copy read back and given its sealed originals (through seal and open, as the gateway does)."""
    ds = pydicom.dcmread(io.BytesIO(archived))
    originals.restore_dataset(ds, originals.Originals.from_bytes(taken.to_bytes()))
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _expected(tag: int, vr: str, code: str) -> str:
    """The documented resolution of a table code (deidentify.py, "Options")."""
    if vr == "SQ":
        return "walked" if code == "X/Z/U*" else "emptied" if code in ("Z", "X/Z") else "removed"
    if tag in PSEUDONYMISED:
        return "pseudonym"
    if vr in ("DA", "DT"):
        return "shifted"
    if code == "U" or vr == "TM" and code != "X":
        return "kept"
    if code == "X":
        return "removed"
    return "dummy" if code in ("D", "X/D", "X/Z/D") else "emptied"


def _empty(value) -> bool:
    return value is None or value == "" or value == b"" or (isinstance(value, Sequence) and len(value) == 0)


def test_the_table_is_the_2026c_basic_profile():
    assert deid_table.EDITION == "2026c" and deid_table.SOURCE == "dicom-anonymizer==2.1.0"
    assert 600 < len(deid_table.ACTIONS) < 700 and len(deid_table.MASKED) == 3
    known = {"PatientName": "Z", "PatientAge": "X", "StudyDate": "Z", "SOPInstanceUID": "U", "StudyDescription": "X",
             "InstitutionName": "X/Z/D", "SeriesDescription": "X", "PatientID": "Z/D", "ReferencedImageSequence": "X/Z/U*",
             "AccessionNumber": "Z", "StudyInstanceUID": "U", "OtherPatientIDsSequence": "X"}
    by_keyword = {DicomDictionary[t][4]: code for t, code in deid_table.ACTIONS.items() if t in DicomDictionary}
    assert {k: by_keyword[k] for k in known} == known
    # The package lists Content Sequence as D (the standard's tables have had it as X); either way it goes from the
    # archive's copy: a sequence with D has no generic dummy item (test_every_row_of_the_table... checks removal).
    assert by_keyword["ContentSequence"] in ("X", "D")


@pytest.mark.parametrize("tag,code", ROWS, ids=[f"{t:08X}-{c}" for t, c in ROWS])
def test_every_row_of_the_table_is_applied_and_restored_byte_for_byte(platform_env, tag, code):
    n = ROWS.index((tag, code))
    vr = _vr(tag)
    value = _value(vr, n)
    if tag >> 16 == 0x0000:
        _command_element_row(tag, vr, value, code)
        return
    data = _instance({tag: (vr, value)} if tag not in BASE else {})
    if tag in BASE:  # the base instance's own attribute: give it the marker value
        ds = parse_part10(data)
        ds[tag].value = value
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        data = buf.getvalue()
    reference = _stored(data)
    header, taken, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    outcome = _expected(tag, vr, code)
    if outcome == "removed":
        assert tag not in stored
    elif outcome == "emptied":
        assert tag in stored and _empty(stored[tag].value)
    elif outcome == "kept":
        assert stored[tag].value == value
    elif outcome == "dummy":
        assert tag in stored and not _empty(stored[tag].value) and stored[tag].value != value
    elif outcome == "pseudonym":
        assert str(stored[tag].value).startswith(("ANON^", "P")) and str(stored[tag].value) != str(value)
    elif outcome == "shifted":
        shifted = dt.datetime.strptime(str(stored[tag].value)[:8], "%Y%m%d").date()
        assert (shifted - dt.date(1972, 3, 14)).days == date_shift_days(header.patient_id_hash)
    else:  # walked: the item stays, what identifies goes from inside it
        (item,) = stored[tag].value
        assert item.ReferencedSOPInstanceUID == "1.2.826.0.1.3680043.8.498.4242"
        assert str(item.PatientName).startswith("ANON^") and "StudyDescription" not in item
        assert 0x00291001 not in item and 0x00290010 not in item
    if outcome not in ("kept",) and vr not in NUMERIC and vr not in ("AS", "DS", "IS"):
        assert _marker(n).encode() not in archived
    assert f"{_marker(n)}NESTED".encode() not in archived
    assert _restored(archived, taken.originals) == reference


def _command_element_row(tag: int, vr: str, value: object, code: str) -> None:
    """Command elements (group 0000) cannot be in a Part 10 file; in a data set they get the row's action too."""
    ds = Dataset()
    ds.SOPInstanceUID = generate_uid()
    ds.add_new(tag, vr, value)
    taken = deidentify(ds, patient_key="k").originals
    assert (tag in ds and ds[tag].value == value) if code == "U" else tag not in ds
    originals.restore_dataset(ds, originals.Originals.from_bytes(taken.to_bytes()))
    assert ds[tag].value == value


def _shifted_study_date(study_date: str, patient_id: str) -> dt.date:
    data = _instance({0x00080020: ("DA", study_date)}, patient_id=patient_id)
    _, _, archived = pseudonymised(parse_part10(data))
    return dt.datetime.strptime(pydicom.dcmread(io.BytesIO(archived)).StudyDate, "%Y%m%d").date()


def test_dates_keep_their_intervals_within_a_patient_and_move_differently_between_patients(platform_env):
    first, second = _shifted_study_date("20200101", "QZ-A"), _shifted_study_date("20200311", "QZ-A")
    assert (second - first).days == 70 and first != dt.date(2020, 1, 1)
    others = {_shifted_study_date("20200101", f"QZ-{p}") for p in "BCD"}
    assert len(others | {first}) > 1


def test_a_patient_shift_is_never_zero_and_at_most_ten_years(platform_env):
    shifts = {date_shift_days(keyed_hash(str(i), purpose="patient-id")) for i in range(2000)}
    assert 0 not in shifts and max(map(abs, shifts)) <= 3650 and len(shifts) > 1000


def test_times_stay_unless_the_table_says_remove(platform_env):
    data = _instance({0x00080030: ("TM", "101500"), 0x00080031: ("TM", "101600"), 0x00181042: ("TM", "101700")})
    _, _, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    assert stored.StudyTime == "101500" and stored.SeriesTime == "101600" and "ContrastBolusStartTime" not in stored


def test_private_tags_go_except_the_safe_list(platform_env):
    data = _instance({0x00190010: ("LO", "SIEMENS MR HEADER"), 0x0019100C: ("IS", "1000"),
                      0x00191010: ("LO", "QZPRIVATESECRET"), 0x00290010: ("LO", "ACME"), 0x00291001: ("LO", "QZACME")})
    reference = _stored(data)
    _, taken, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    assert stored[0x0019100C].value == "1000" and stored[0x00190010].value == "SIEMENS MR HEADER"
    assert 0x00191010 not in stored and 0x00290010 not in stored and 0x00291001 not in stored
    assert b"QZPRIVATESECRET" not in archived and b"QZACME" not in archived
    assert _restored(archived, taken.originals) == reference


def test_descriptors_and_free_text_are_gone_from_the_archive_copy(platform_env):
    data = _instance({0x00081030: ("LO", "QZSTUDYDESC"), 0x0008103E: ("LO", "QZSERIESDESC"),
                      0x00204000: ("LT", "QZIMAGECOMMENT"), 0x00700081: ("LO", "QZCONTENTDESC"),
                      0x0040A160: ("UT", "QZTEXTVALUE"), 0x00081090: ("LO", "QZMODEL")})
    _, taken, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    for marker in (b"QZSTUDYDESC", b"QZSERIESDESC", b"QZIMAGECOMMENT", b"QZCONTENTDESC", b"QZTEXTVALUE"):
        assert marker not in archived
    assert stored.ContentDescription == "" and stored.ManufacturerModelName == "QZMODEL"  # Type 2 stays, emptied
    assert originals.keyword_value(taken.originals, "StudyDescription") == "QZSTUDYDESC"


def test_the_profile_says_what_it_did_and_restore_takes_that_away(platform_env):
    data = _instance({})
    reference = _stored(data)
    _, taken, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    assert stored.PatientIdentityRemoved == "YES" and stored.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in stored.DeidentificationMethodCodeSequence] == ["113100", "113105", "113106",
                                                                                  "113110"]
    assert stored.DeidentificationMethod
    assert _restored(archived, taken.originals) == reference


@pytest.mark.parametrize("attrs,flag", [({"BurnedInAnnotation": "YES", "Modality": "CT"}, "yes"),
                                        ({"Modality": "US"}, "suspected"), ({"Modality": "SC"}, "suspected"),
                                        ({"Modality": "US", "BurnedInAnnotation": "NO"}, None),
                                        ({"Modality": "CT"}, None)])
def test_burned_in_annotation_is_flagged(attrs, flag):
    ds = Dataset()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    assert burned_in_flag(ds) == flag


def _part10_of_test_file(name: str) -> bytes:
    """One of pydicom's test files as an instance ingest accepts (SOP identity added where it has none)."""
    ds = pydicom.dcmread(get_testdata_file(name), force=True)
    if not ds.get("SOPInstanceUID"):
        ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", generate_uid()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("name", ["priv_SQ.dcm", "nested_priv_SQ.dcm", "CT_small.dcm", "test-SR.dcm",
                                  "MR_small_bigendian.dcm", "rtplan.dcm", "image_dfl.dcm"])
def test_real_files_with_private_and_nested_sequences_come_back_byte_for_byte(platform_env, name):
    data = _part10_of_test_file(name)
    reference = _stored(data)
    _, taken, archived = pseudonymised(parse_part10(data))
    stored = pydicom.dcmread(io.BytesIO(archived))
    assert not [e.tag for e in stored if e.tag.is_private]
    assert "ContentSequence" not in stored
    assert _restored(archived, taken.originals) == reference
    restored_json = originals.restore_json(stored.to_json_dict(), taken.originals)
    assert restored_json == pydicom.dcmread(io.BytesIO(reference)).to_json_dict()


def test_a_model_result_gets_the_study_identity_not_the_instance(platform_env):
    data = _instance({0x00100010: ("PN", "QZDOE^JANE"), 0x00080020: ("DA", "20200101"),
                      0x0008103E: ("LO", "QZSERIES")})
    _, taken, _ = pseudonymised(parse_part10(data))
    result = Dataset()
    result.SOPInstanceUID, result.PatientName, result.SeriesDescription = generate_uid(), "ANON^X", "AI result"
    result.PatientIdentityRemoved = "YES"
    originals.restore_dataset(result, taken.originals)
    assert str(result.PatientName) == "QZDOE^JANE" and result.StudyDate == "20200101"
    assert result.SeriesDescription == "AI result" and "PatientIdentityRemoved" not in result


def test_blobs_sealed_before_the_profile_still_open_and_restore(world):
    study = world.study(world.person())
    key = originals.study_key(study)
    legacy = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]}, "00080080": {"vr": "LO",
                                                                                        "Value": ["St Mary"]}}
    sealed = originals.seal(key, legacy, study_uid=study.study_uid, sop_uid="1.2.3")
    opened = originals.open_sealed(key, sealed, study_uid=study.study_uid, sop_uid="1.2.3")
    assert opened == legacy and originals.keyword_value(opened, "PatientName") == "DOE^JANE"
    ds = Dataset()
    ds.PatientName, ds.SOPInstanceUID = "ANON^X", "1.2.3"
    originals.restore_dataset(ds, opened)
    assert str(ds.PatientName) == "DOE^JANE" and ds.InstitutionName == "St Mary"


def test_deidentify_needs_no_file_and_returns_what_it_took(platform_env):
    ds = Dataset()
    ds.PatientName, ds.SOPInstanceUID, ds.OperatorsName = "DOE^JANE", "1.2.3", "QZOPERATOR"
    taken = deidentify(ds, patient_key="k")
    assert ds.OperatorsName == "ANONYMOUS" and str(ds.PatientName).startswith("ANON^")
    assert originals.keyword_value(taken.originals, "OperatorsName") == "QZOPERATOR"


def test_originals_decode_in_the_instance_character_set(platform_env):
    item = Dataset()
    item.PatientName = "NESTÉD^NAME"
    data = _instance({0x00080005: ("CS", "ISO_IR 192"), 0x00100010: ("PN", "GRÉTA^ÅSA"),
                      0x00101002: ("SQ", Sequence([item]))})
    _, taken, archived = pseudonymised(parse_part10(data))
    sealed = originals.Originals.from_bytes(taken.originals.to_bytes())
    assert originals.keyword_value(sealed, "PatientName") == "GRÉTA^ÅSA"
    assert sealed["00101002"]["Value"][0]["00100010"]["Value"][0]["Alphabetic"] == "NESTÉD^NAME"
    result = Dataset()
    result.SOPInstanceUID = generate_uid()
    originals.restore_dataset(result, sealed)
    assert str(result.PatientName) == "GRÉTA^ÅSA" and result.SpecificCharacterSet == "ISO_IR 192"


def _ingested(db, person, series: list[Dataset]) -> str:
    with Ingest(db, person.id, may_store=may_store(person.principal)) as ingest:
        for ds in series:
            ingest.add(parse_part10(to_bytes(ds)))
        outcomes = ingest.finish()
    assert all(o.stored for o in outcomes), [o.error for o in outcomes]
    return outcomes[0].study_uid


def _burned_in_slices(patient_id: str, flags: list[str | None], modality: str = "US") -> list[Dataset]:
    """Slices of one study (one patient): BurnedInAnnotation as given (None: absent)."""
    series = ct_series(Patient(name="BURNED^IN", patient_id=patient_id), slices=len(flags), rows=8, columns=8)
    for ds, flag in zip(series, flags, strict=True):
        ds.Modality = modality
        if flag is None:
            ds.pop("BurnedInAnnotation", None)
        else:
            ds.BurnedInAnnotation = flag
    return series


def test_ingest_flags_burned_in_studies_once_and_never_lowers_the_flag(db, world):
    doctor = world.person()
    patient_id = f"BI-{generate_uid()[-8:]}"
    first, later = _burned_in_slices(patient_id, [None, "YES"]), _burned_in_slices(patient_id, [None])
    for ds in later:
        ds.StudyInstanceUID, ds.SeriesInstanceUID = first[0].StudyInstanceUID, generate_uid()
    uid = _ingested(db, doctor, first[:1])
    study = db.scalar(select(Study).where(Study.study_uid == uid))
    assert study.burned_in == "suspected"
    _ingested(db, doctor, first[1:])
    db.refresh(study)
    assert study.burned_in == "yes"
    _ingested(db, doctor, later)  # a suspected instance after: "yes" stays
    db.refresh(study)
    assert study.burned_in == "yes"
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "study_burned_in",
                                                 AuditEvent.target == f"study:{uid}")).all()
    assert [e.details for e in events] == [{"flag": "suspected"}] and events[0].actor_id == doctor.id


def test_ingest_leaves_studies_without_a_hint_unflagged(db, world):
    uid = _ingested(db, world.person(), _burned_in_slices(f"BI-{generate_uid()[-8:]}", [None], modality="CT"))
    assert db.scalar(select(Study.burned_in).where(Study.study_uid == uid)) is None
    assert not db.scalars(select(AuditEvent).where(AuditEvent.target == f"study:{uid}",
                                                   AuditEvent.action == "study_burned_in")).all()
