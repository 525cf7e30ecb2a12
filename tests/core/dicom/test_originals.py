"""Study originals: sealed under the study's key and bound to their study and instance, put back
into DICOM JSON and datasets for readers."""

from __future__ import annotations

import pytest
from mcc_local.dicomgen import Patient, ct_series

from functions.common.dicom import originals
from functions.common.dicom.deidentify import deidentify
from functions.common.security.keys import CryptoError


def test_originals_open_only_for_their_own_study_and_instance(world):
    study = world.study(world.person())
    key = originals.study_key(study)
    values = {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]}}
    sealed = originals.seal(key, values, study_uid=study.study_uid, sop_uid="1.2.3")
    assert originals.open_sealed(key, sealed, study_uid=study.study_uid, sop_uid="1.2.3") == values
    for elsewhere in ({"study_uid": study.study_uid, "sop_uid": "1.2.4"}, {"study_uid": "1.2.9", "sop_uid": "1.2.3"},
                      {"study_uid": study.study_uid}):
        with pytest.raises(CryptoError):
            originals.open_sealed(key, sealed, **elsewhere)
    other_key = originals.study_key(world.study(world.person()))
    with pytest.raises(CryptoError):
        originals.open_sealed(other_key, sealed, study_uid=study.study_uid, sop_uid="1.2.3")


def test_a_dataset_gets_its_originals_back(platform_env):
    ds = ct_series(Patient(name="DOE^JANE", patient_id="PID-7", institution="St Mary", accession="ACC-9"),
                   slices=1, rows=8, columns=8)[0]
    kept = deidentify(ds, patient_key="patient-key").originals
    assert str(ds.PatientName) != "DOE^JANE" and ds.InstitutionName != "St Mary"
    originals.restore_dataset(ds, kept)
    assert str(ds.PatientName) == "DOE^JANE" and ds.PatientID == "PID-7" and ds.InstitutionName == "St Mary"
    assert originals.keyword_value(kept, "PatientName") == "DOE^JANE"
    assert originals.keyword_value(kept, "PatientID") == "PID-7"
    assert originals.keyword_value(kept, "AccessionNumber") == "ACC-9"
    assert originals.keyword_value(kept, "OperatorsName") is None
