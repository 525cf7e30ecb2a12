"""De-identification before Orthanc sees an instance.

The attributes below (from the DICOM PS3.15 Basic Application Level Confidentiality Profile:
those about the patient, physicians, institution and accession) are replaced by stable keyed
pseudonyms or removed. Their original DICOM JSON is returned to the caller, who seals it under the
study's data key (`originals.py`, which also puts it back for readers who may see the study).
"""

from __future__ import annotations

from typing import Any

from pydicom import Dataset
from pydicom.datadict import tag_for_keyword

from functions.common.security.crypto import keyed_hash

# keyword → replacement kind: "name" (PN pseudonym), "id" (LO/SH pseudonym), "date", "remove"
REPLACE: dict[str, str] = {
    "PatientName": "name",
    "PatientID": "id",
    "PatientBirthDate": "date",
    "ReferringPhysicianName": "name",
    "AccessionNumber": "id",
    "InstitutionName": "remove",
    "InstitutionAddress": "remove",
    "InstitutionalDepartmentName": "remove",
    "PerformingPhysicianName": "remove",
    "NameOfPhysiciansReadingStudy": "remove",
    "PhysiciansOfRecord": "remove",
    "OperatorsName": "remove",
    "RequestingPhysician": "remove",
    "OtherPatientIDs": "remove",
    "OtherPatientIDsSequence": "remove",
    "OtherPatientNames": "remove",
    "PatientBirthTime": "remove",
    "PatientAddress": "remove",
    "PatientTelephoneNumbers": "remove",
    "PatientMotherBirthName": "remove",
    "MedicalRecordLocator": "remove",
    "IssuerOfPatientID": "remove",
    "PatientComments": "remove",
    "AdditionalPatientHistory": "remove",
    "Occupation": "remove",
    "MilitaryRank": "remove",
    "StationName": "remove",
    "DeviceSerialNumber": "remove",
    "ResponsiblePerson": "remove",
    "ResponsibleOrganization": "remove",
    "RequestAttributesSequence": "remove",
    "ReferencedPatientSequence": "remove",
}
TAGS = {f"{tag_for_keyword(k):08X}": k for k in REPLACE}
PSEUDONYM_DATE = "19000101"


def pseudonym(kind: str, value: str) -> str:
    """A stable pseudonym: the same original gives the same pseudonym, and nothing of it shows."""
    digest = keyed_hash(value, purpose=f"pseudonym-{kind}").upper()
    return f"ANON^{digest[:10]}" if kind == "name" else f"P{digest[:15]}"


def deidentify(ds: Dataset) -> dict[str, Any]:
    """Replace identifying attributes in place; return their originals as DICOM JSON by tag."""
    originals: dict[str, Any] = {}
    for keyword, kind in REPLACE.items():
        if keyword not in ds:
            continue
        elem = ds[keyword]
        tag = f"{elem.tag:08X}"
        originals[tag] = elem.to_json_dict(bulk_data_element_handler=None, bulk_data_threshold=1 << 30)
        value = str(elem.value) if elem.value is not None else ""
        if kind == "remove" or not value:
            del ds[keyword]
        elif kind == "date":
            elem.value = PSEUDONYM_DATE
        else:
            elem.value = pseudonym(kind, value)
    return originals
