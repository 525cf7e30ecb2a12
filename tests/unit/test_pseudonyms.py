"""Pseudonymisation and blind indexes: what leaves for Orthanc, what comes back, what a search matches."""

from __future__ import annotations

import pytest
from mcc_local.dicomgen import Patient, ct_series

from functions.common.dicom.deidentify import date_shift_days, deidentify, pseudonym
from functions.common.dicom.originals import restore_dataset, restore_json
from functions.common.platform.config import reset_settings
from functions.common.security.blind_index import name_tokens, query_tokens


@pytest.fixture(autouse=True)
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("MCC_STATE_DIR", str(tmp_path))
    reset_settings()
    yield
    reset_settings()


def slice_of(**patient) -> object:
    return ct_series(Patient(**patient), slices=1, rows=16, columns=16)[0]


def test_identifying_attributes_are_replaced_or_removed_and_kept_as_originals():
    ds = slice_of(name="DOE^JANE", patient_id="PID-1", referring_physician="HOUSE^G", institution="St Mary")
    birth = ds.PatientBirthDate
    originals = deidentify(ds, patient_key="patient-key").originals
    assert str(ds.PatientName).startswith("ANON^") and ds.PatientID.startswith("P")
    assert ds.PatientBirthDate != birth and len(ds.PatientBirthDate) == 8 and date_shift_days("patient-key") != 0
    assert ds.InstitutionName == "ANONYMOUS"  # X/Z/D: a dummy keeps a Type 1 attribute valid
    assert originals["00100010"]["Value"][0]["Alphabetic"] == "DOE^JANE"
    assert originals["00080080"]["Value"] == ["St Mary"]


def test_pseudonyms_are_stable_per_value_and_differ_between_values():
    assert pseudonym("id", "PID-1") == pseudonym("id", "PID-1") != pseudonym("id", "PID-2")
    assert "PID" not in pseudonym("id", "PID-1")


def test_restoring_gives_back_exactly_the_original_attributes():
    ds = slice_of(name="DOE^JANE", patient_id="PID-1", accession="ACC9")
    before = {k: ds[k].value for k in ("PatientName", "PatientID", "AccessionNumber", "PatientBirthDate")}
    originals = deidentify(ds, patient_key="patient-key").originals
    restore_dataset(ds, originals)
    assert {k: ds[k].value for k in before} == before
    item = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "ANON^X"}]}, "0020000D": {"vr": "UI", "Value": ["1.2"]}}
    restored = restore_json(dict(item), originals)
    assert restored["00100010"]["Value"][0]["Alphabetic"] == "DOE^JANE" and restored["0020000D"] == item["0020000D"]


@pytest.mark.parametrize("query,matches", [
    ("doe", True), ("DOE", True), ("do*", True), ("jane", True), ("jané", True), ("doe^jane", True),
    ("doe jan*", True), ("*", True), ("smith", False), ("jan", False), ("jo*", False),
])
def test_name_queries_match_whole_components_or_prefixes_without_case_or_accents(query, matches):
    stored = set(name_tokens("DOE^JANE"))
    assert (set(query_tokens(query)) <= stored) == matches


@pytest.mark.parametrize("query", ["*oe", "d*e", "d?e"])
def test_leading_or_inner_wildcards_are_refused(query):
    with pytest.raises(ValueError, match="trailing"):
        query_tokens(query)
