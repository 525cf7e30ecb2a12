"""Study originals: what de-identification took out of each instance, sealed under the study's data key, and put
back for readers who may see the study.

Every study has its own AES-256-GCM data key, wrapped by the platform's key-encryption key (bound
to the study UID) and kept on the study's row: deleting the row destroys the key, and with it every original
(crypto-shredding). Each sealed value is bound to where it belongs by one associated-data rule
(`_aad`): the study UID for the study-level originals, "study UID/SOP instance UID" for an
instance's. A value copied to another study or instance does not open.

What is sealed (`Originals`): each top-level element the profile changed or removed, encoded as the archive would
have stored it (a sequence whole when anything inside it changed), and the tags the profile added; so restoring an
instance gives back its data set byte for byte. Blobs sealed before (DICOM JSON by tag of 32 attributes) still open
and restore as they did.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from io import BytesIO
from typing import Any

from pydicom import Dataset
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_data_element
from pydicom.uid import UID
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.dicom.index import Instance, Series, Study
from functions.common.security.crypto import WrappedKey, envelope, open_with_key, seal_with_key

MAGIC = b"MCC-ORIGINALS/2\n"
SOP_INSTANCE_UID = 0x00080018
SPECIFIC_CHARACTER_SET = 0x00080005
# The attributes blobs sealed before the full profile hold (kept to restore them as they were restored then).
LEGACY_REPLACE = (
    "PatientName", "PatientID", "PatientBirthDate", "ReferringPhysicianName", "AccessionNumber", "InstitutionName",
    "InstitutionAddress", "InstitutionalDepartmentName", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord", "OperatorsName", "RequestingPhysician", "OtherPatientIDs", "OtherPatientIDsSequence",
    "OtherPatientNames", "PatientBirthTime", "PatientAddress", "PatientTelephoneNumbers", "PatientMotherBirthName",
    "MedicalRecordLocator", "IssuerOfPatientID", "PatientComments", "AdditionalPatientHistory", "Occupation",
    "MilitaryRank", "StationName", "DeviceSerialNumber", "ResponsiblePerson", "ResponsibleOrganization",
    "RequestAttributesSequence", "ReferencedPatientSequence",
)
LEGACY_TAGS = {f"{tag_for_keyword(k):08X}": k for k in LEGACY_REPLACE}
# Who the study is of and what it is: what another instance (a model's result, built from the archive's copies)
# gets back of an instance's originals. Per-instance attributes never move between instances.
STUDY_IDENTITY: frozenset[int] = frozenset(
    [tag_for_keyword(k) for k in ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyID",
                                  "StudyDescription", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
                                  "IssuerOfPatientID")])
# The profile's own attributes (deidentify.py adds them): they describe the archive's copy only.
PROFILE_MARKS = (0x00120062, 0x00120063, 0x00120064, 0x00280303)
JSON_BULK_INLINE = 1 << 30  # originals are small; every value inline


def encode_element(elem: DataElement | RawDataElement, *, implicit: bool, encodings: list[str] | None = None) -> bytes:
    """One element as `save_as` writes it in a little endian data set (a raw element verbatim)."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    write_data_element(fp, elem, encodings)
    return fp.getvalue()


class Originals(Mapping[str, Any]):
    """What de-identification took out of one instance. As a mapping: DICOM JSON by tag ("00100010": {"vr": "PN",
    "Value": [...]}), converted on demand; `restore_dataset` puts the encoded elements back as they were."""

    def __init__(self, elements: Mapping[int, bytes] | None = None, *, implicit: bool = False,
                 charset: str | list[str] | None = None, added: tuple[int, ...] = (), sop_uid: str | None = None,
                 legacy: dict[str, Any] | None = None) -> None:
        self.elements = dict(sorted((elements or {}).items()))
        self.implicit, self.charset, self.added, self.sop_uid = implicit, charset, tuple(added), sop_uid
        self.legacy = legacy
        self._parsed: Dataset | None = None
        self._json: dict[str, Any] = {}

    @classmethod
    def taken(cls, elements: Mapping[int, bytes], *, implicit: bool, charset: Any, added: list[int],
              sop_uid: str | None) -> Originals:
        """What `deidentify` took out of an instance."""
        if charset is not None and not isinstance(charset, str):
            charset = [str(c) for c in charset]
        return cls(elements, implicit=implicit, charset=charset, added=tuple(added), sop_uid=sop_uid)

    # ------------------------------------------------------------------------------ sealed form

    def to_bytes(self) -> bytes:
        """The sealed plaintext: a header line, then the elements as one data set fragment."""
        if self.legacy is not None:
            return json.dumps(self.legacy).encode()
        header = {"sop": self.sop_uid, "implicit": self.implicit, "charset": self.charset,
                  "added": [f"{t:08X}" for t in self.added],
                  "lengths": [[f"{t:08X}", len(b)] for t, b in self.elements.items()]}
        return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + b"".join(self.elements.values())

    @classmethod
    def from_bytes(cls, data: bytes) -> Originals:
        """What `to_bytes` gave (or a blob of the JSON-by-tag form sealed before)."""
        if not data.startswith(MAGIC):
            return cls(legacy=json.loads(data))
        end = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC):end])
        elements, at = {}, end + 1
        for tag, length in header["lengths"]:
            elements[int(tag, 16)] = data[at:at + length]
            at += length
        return cls(elements, implicit=header["implicit"], charset=header["charset"],
                   added=tuple(int(t, 16) for t in header["added"]), sop_uid=header["sop"])

    # ------------------------------------------------------------------------------ as elements

    def dataset(self) -> Dataset:
        """The elements parsed (raw where pydicom keeps them raw), in a data set of their character set."""
        if self._parsed is None:
            self._parsed = self._parse(b"".join(self.elements.values()))
        return self._parsed

    def _parse(self, fragment: bytes) -> Dataset:
        encodings = convert_encodings(self.charset) if self.charset else [default_encoding]
        parsed = read_dataset(BytesIO(fragment), self.implicit, True, parent_encoding=encodings)  # items alike
        parsed.set_original_encoding(self.implicit, True, encodings)
        return parsed

    def json_of(self, tag: str, memo: dict[bytes, Any] | None = None) -> dict[str, Any]:
        """One element's DICOM JSON; `memo` shares conversions between instances holding the same element."""
        if self.legacy is not None:
            return self.legacy[tag]
        if tag not in self._json:
            number = int(tag, 16)
            encoded = self.elements[number]
            key = encoded + repr((self.implicit, self.charset)).encode()
            if memo is not None and key in memo:
                self._json[tag] = memo[key]
            else:
                parsed = self._parsed if self._parsed is not None else self._parse(encoded)  # one, or all at once
                self._json[tag] = parsed[number].to_json_dict(None, JSON_BULK_INLINE)
                if memo is not None:
                    memo[key] = self._json[tag]
        return self._json[tag]

    # ------------------------------------------------------------------------------ mapping

    def __getitem__(self, tag: str) -> dict[str, Any]:
        if self.legacy is not None:
            return self.legacy[tag]
        if not isinstance(tag, str) or len(tag) != 8 or int(tag, 16) not in self.elements:
            raise KeyError(tag)
        return self.json_of(tag)

    def __iter__(self) -> Iterator[str]:
        return iter(self.legacy) if self.legacy is not None else (f"{t:08X}" for t in self.elements)

    def __len__(self) -> int:
        return len(self.legacy) if self.legacy is not None else len(self.elements)

    def __contains__(self, tag: object) -> bool:
        if self.legacy is not None:
            return tag in self.legacy
        return isinstance(tag, str) and len(tag) == 8 and int(tag, 16) in self.elements


def _as_originals(value: Originals | Mapping[str, Any]) -> Originals:
    return value if isinstance(value, Originals) else Originals(legacy=dict(value))


def _key_aad(study_uid: str) -> bytes:
    return f"study-key/{study_uid}".encode()


def new_study_key(study_uid: str) -> tuple[bytes, WrappedKey]:
    """A fresh data key for a new study and its form stored on the row: wrapped by the current key-encryption
    key with the study UID as associated data, so a wrapped key copied onto another study's row does not unwrap."""
    return envelope().new_data_key(aad=_key_aad(study_uid))


def study_key(study: Study) -> bytes:
    """The study's data key, unwrapped by the key-encryption key that wrapped it, for this study only."""
    return envelope().unwrap(WrappedKey(study.key_kek_id, study.key_wrapped), aad=_key_aad(study.study_uid))


def _aad(study_uid: str, sop_uid: str | None) -> bytes:
    return (study_uid if sop_uid is None else f"{study_uid}/{sop_uid}").encode()


def seal(key: bytes, originals: Originals | Mapping[str, Any], *, study_uid: str, sop_uid: str | None = None) -> bytes:
    """Seal the originals of a study (no `sop_uid`) or of one of its instances."""
    return seal_with_key(key, _as_originals(originals).to_bytes(), aad=_aad(study_uid, sop_uid))


def open_sealed(key: bytes, blob: bytes, *, study_uid: str, sop_uid: str | None = None) -> Originals:
    """The originals `seal` sealed for the same study (and instance)."""
    return Originals.from_bytes(open_with_key(key, blob, aad=_aad(study_uid, sop_uid)))


def of_study(study: Study, key: bytes | None = None) -> Originals:
    """The study-level originals (those of the first instance stored), for authorised readers."""
    if study.originals_enc is None:
        return Originals()
    return open_sealed(key or study_key(study), study.originals_enc, study_uid=study.study_uid)


def of_instances(db: Session, study: Study, sop_uids: list[str], key: bytes | None = None) -> dict[str, Originals]:
    """Per-instance originals of the given instances of one study."""
    key = key or study_key(study)
    rows = db.execute(select(Instance.sop_uid, Instance.originals_enc).join(Series)
                      .where(Series.study_pk == study.id, Instance.sop_uid.in_(sop_uids)))
    return {uid: open_sealed(key, blob, study_uid=study.study_uid, sop_uid=uid) for uid, blob in rows}


def restore_json(item: dict[str, Any], originals: Originals | Mapping[str, Any]) -> dict[str, Any]:
    """Put original attributes back into one DICOM JSON object (QIDO result or metadata)."""
    return _restore_item(item, _as_originals(originals), whole=True)


def _restore_item(item: dict[str, Any], originals: Originals, *, whole: bool,
                  memo: dict[bytes, Any] | None = None) -> dict[str, Any]:
    """`whole`: the item is the instance the originals are of (every original goes back); else only the attributes
    the item holds are replaced (a series-level result, restored from the study's first instance)."""
    if originals.legacy is not None:
        present = {t for t in LEGACY_TAGS if t in item}
        for tag in present:
            item.pop(tag)
        item.update({t: v for t, v in originals.legacy.items() if whole or t in present})
        return item
    for tag in originals.added:
        item.pop(f"{tag:08X}", None)
    if whole and memo is None:
        originals.dataset()  # every element is wanted: parsed in one go
    for tag in originals:
        if whole or tag in item:
            item[tag] = originals.json_of(tag, memo)
    return item


def restore_items(db: Session, study: Study, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Restore originals in DICOM JSON objects from the archive: per instance when it is one, else per study."""
    key = study_key(study)
    sop_uids = [i["00080018"]["Value"][0] for i in items if i.get("00080018", {}).get("Value")]
    per_instance = of_instances(db, study, sop_uids, key) if sop_uids else {}
    study_level = of_study(study, key)
    memo: dict[bytes, Any] = {}
    for item in items:
        uid = item.get("00080018", {}).get("Value", [None])[0]
        own = per_instance.get(uid)
        _restore_item(item, own if own is not None else study_level, whole=own is not None, memo=memo)
    return items


def restore_dataset(ds: Dataset, originals: Originals | Mapping[str, Any]) -> Dataset:
    """Put original attributes back into a data set before it leaves the gateway: the instance they were taken
    from gets every element back as it was (its `save_as` is the uploaded file's); another instance (a model's
    result) gets the study's identity (`STUDY_IDENTITY`, the patient's group) and loses the profile's marks."""
    originals = _as_originals(originals)
    if originals.legacy is not None:
        return _restore_legacy(ds, originals.legacy)
    if not originals.elements and not originals.added:
        return ds
    parsed = originals.dataset()
    sop = ds.get_item(SOP_INSTANCE_UID)
    if originals.sop_uid == (_text(sop) if sop is not None else None):
        for tag in originals.added:
            ds.pop(tag, None)
        same_encoding = is_implicit(ds) == originals.implicit
        for tag in originals.elements:  # raw elements are written as they were read; others re-encoded
            elem = parsed.get_item(tag) if same_encoding else parsed[tag]
            ds[tag] = elem if isinstance(elem, RawDataElement) else copy.deepcopy(elem)
        return ds
    for tag in PROFILE_MARKS:
        ds.pop(tag, None)
    for tag in originals.elements:
        if tag in STUDY_IDENTITY or tag >> 16 == 0x0010:
            ds[tag] = copy.deepcopy(parsed[tag])
    if originals.charset is not None and SPECIFIC_CHARACTER_SET not in ds:
        ds.SpecificCharacterSet = originals.charset
    return ds


def _restore_legacy(ds: Dataset, legacy: dict[str, Any]) -> Dataset:
    for keyword in LEGACY_REPLACE:
        if keyword in ds:
            del ds[keyword]
    if legacy:
        for elem in Dataset.from_json(json.dumps(legacy)):
            ds[elem.tag] = elem
    return ds


def is_implicit(ds: Dataset) -> bool:
    """Whether the data set is (or will be written) implicit VR: its transfer syntax says, else how it was read."""
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax:
        return bool(UID(syntax).is_implicit_VR)
    encoding = getattr(ds, "original_encoding", (None, None))[0]
    return bool(encoding)


def _text(elem: DataElement | RawDataElement) -> str:
    value = elem.value
    return value.decode("latin-1").strip(" \0") if isinstance(value, bytes) else str(value)


def keyword_value(originals: Mapping[str, Any], keyword: str) -> str | None:
    """One original value as text (e.g. for the portal's study list), or None."""
    tag = f"{tag_for_keyword(keyword):08X}"
    entry = originals.get(tag)
    if not entry or not entry.get("Value"):
        return None
    value = entry["Value"][0]
    return value.get("Alphabetic") if isinstance(value, dict) else str(value)
