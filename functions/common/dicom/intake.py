"""An instance as ingest takes it in: what the index needs of it (read before pseudonymisation replaces
it), the patient it is of, its identifying originals, and the pseudonymised Part 10 bytes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset

from functions.common.dicom import part10
from functions.common.dicom.deidentify import Deidentified, deidentify
from functions.common.dicom.index import Study
from functions.common.dicom.validation import FailureReason, InstanceRejected
from functions.common.security.blind_index import name_tokens
from functions.common.security.crypto import keyed_hash


@dataclass(frozen=True)
class PatientKey:
    """Who an instance or study is of, comparable without decrypting: the keyed hash of the original
    PatientID and the blind-index tokens of the name (case- and accent-folded components)."""

    id_hash: str
    name_tokens: frozenset[str]

    @classmethod
    def of_study(cls, study: Study) -> PatientKey:
        return cls(study.patient_id_hash, frozenset(study.name_tokens))


@dataclass(frozen=True)
class Header:
    """What the index needs of an instance, taken before pseudonymisation replaces it."""

    patient_id_hash: str
    name_tokens: list[str]
    study_date: dt.date | None  # the original: the index stores it shifted (`search.stored_date`)
    modality: str | None
    series_number: int | None
    transfer_syntax: str | None  # as the archive stores it

    @classmethod
    def of(cls, ds: Dataset) -> Header:
        number = ds.get("SeriesNumber")
        return cls(keyed_hash(str(ds.get("PatientID", "")), purpose="patient-id"),
                   name_tokens(str(ds.get("PatientName", ""))), _date(ds.get("StudyDate")),
                   str(ds.get("Modality", "")) or None, int(number) if number not in (None, "") else None,
                   str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "")) or None)

    @property
    def patient(self) -> PatientKey:
        return PatientKey(self.patient_id_hash, frozenset(self.name_tokens))


def pseudonymised(ds: Dataset) -> tuple[Header, Deidentified, bytes]:
    """The index's view of the instance, what de-identification took out of it (its originals, to seal) and saw
    (burned-in text), and the de-identified Part 10 file the archive stores.

    Elements are decoded only here, as they are read (parsing checked their structure): those the profile leaves
    alone reach the archive byte for byte (`part10.write`). A value that cannot be decoded refuses the instance.
    """
    try:
        header = Header.of(ds)
        taken = deidentify(ds, patient_key=header.patient_id_hash)
        data = part10.write(ds, changed={*taken.originals.elements, *taken.originals.added})
    except Exception as e:  # noqa: BLE001 - pydicom raises many types on malformed values; all mean the same
        raise InstanceRejected(FailureReason.CANNOT_UNDERSTAND, f"an attribute cannot be decoded: {e}") from e
    return header, taken, data


def _date(value: Any) -> dt.date | None:
    text = str(value or "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None
