"""De-identification before Orthanc sees an instance: the PS3.15 Basic Application Level Confidentiality Profile
(Annex E, every row of `deid_table.ACTIONS`, recursively into sequences) with the options below.

Whatever is removed or replaced is returned as `Originals` (each changed top-level element as it was encoded), which
the caller seals under the study's data key (`originals.py`, which also puts it back, byte for byte, for readers who
may see the study). The archive's copy therefore loses nothing an authorised reader would see.

Options (PS3.15 E.3; CID 7050 codes in `METHOD_CODES`, written to DeidentificationMethodCodeSequence):
- Retain UIDs (113110): U rows keep their value. DICOMweb addresses studies, series and instances by UID, and OHIF,
  results (SEG/SR references) and the index all depend on them. What this leaks: a UID often embeds the device's or
  vendor's root and sometimes a timestamp, so the archive's copy can be linked to the source system's copy of the
  same instance by someone holding both; accepted because the archive is ours and never leaves the gateway raw.
- Retain Longitudinal Temporal Information with Modified Dates (113106): every DA and DT value of a table row
  (whatever its action, X included, and so the dates of Z and D rows) is shifted by a keyed per-patient number of
  days (`date_shift_days`: never 0, at most `MAX_SHIFT_DAYS`), so intervals within a patient survive and differ in
  offset between patients; TM values are kept unless the row is a plain X. A date that cannot be read is emptied.
- Clean Descriptors (113105): descriptions, comments and free text are taken out of the archive's copy: the
  table's X rows remove the listed ones; any other LT/ST/UT value, and any attribute named ...Description or
  ...Comment(s) the table does not list, is emptied (kept present, so a Type 2 attribute stays valid).
- Private attributes are removed, except the few in `SAFE_PRIVATE` (numeric acquisition parameters models use;
  with their private creator element).
- Names and IDs the portal and the archive key on get stable keyed pseudonyms (`PSEUDONYMS`, `pseudonym()`);
  other Z rows are emptied, D rows get a dummy value of their VR (`DUMMY`), X rows are removed. Compound codes
  resolve to the choice that keeps an IOD valid whatever the attribute's type there: Z/D and X/Z → Z, X/D and
  X/Z/D → D. Sequences: X and D (no dummy item exists in general; the table's D sequences, Content Sequence first,
  hold the identifying content), X/D, X/Z/D and Z/D → removed; Z and X/Z → no items; X/Z/U* (references by UID)
  and sequences the table does not list are kept and de-identified item by item. So an SR's content goes.
- Group lengths (gggg,0000) go: they would no longer be true.

Burned-in annotation: the profile cannot clean pixels. `burned_in_flag` says "yes" when BurnedInAnnotation is YES,
"suspected" when it is absent and the modality is one known for text in the image (`BURNED_IN_MODALITIES`).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from enum import Enum

from pydicom import Dataset
from pydicom.datadict import DicomDictionary, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from functions.common.dicom import deid_table, part10
from functions.common.dicom.originals import Originals, encode_element, is_implicit
from functions.common.security.crypto import keyed_hash

MAX_SHIFT_DAYS = 3650
PSEUDONYM_KINDS = {"PatientName": "name", "ReferringPhysicianName": "name", "PatientID": "id",
                   "AccessionNumber": "id"}
PSEUDONYMS: dict[int, str] = {tag_for_keyword(k): kind for k, kind in PSEUDONYM_KINDS.items()}
DUMMY: dict[str, object] = {
    **dict.fromkeys(("PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE"), "ANONYMOUS"),
    "UR": "urn:x-anonymous", "AS": "000Y", "DS": "0", "IS": "0",
    **dict.fromkeys(("US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"), 0),
    **dict.fromkeys(("OB", "OW", "OF", "OD", "OL", "OV", "UN"), b"\0\0"),
}
# (private creator, group, element within the block) kept: numeric acquisition parameters with no identity in them,
# listed in PS3.15 Table E.3.10-1 (Retain Safe Private Option) and read by diffusion models.
SAFE_PRIVATE: frozenset[tuple[str, int, int]] = frozenset({
    ("SIEMENS MR HEADER", 0x0019, 0x0C),       # B_value (IS): the diffusion weighting, a number
    ("SIEMENS MR HEADER", 0x0019, 0x0E),       # DiffusionGradientDirection (FD): a unit vector
    ("GEMS_PARM_01", 0x0043, 0x39),            # slop_int_6..9 (IS): GE's b-value, numbers
    ("Philips Imaging DD 001", 0x2001, 0x03),  # Diffusion B-Factor (FL): a number
})
BURNED_IN_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "GM", "SM", "IO", "PX", "DOC"})
# Kept in the archive's copy, and sealed all the same: the index keeps no study time, the study list reads it here.
ALWAYS_SEALED = (tag_for_keyword("StudyTime"),)
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT"})
# Attributes the table does not list whose names say they are descriptions or comments (Clean Descriptors).
DESCRIPTORS: frozenset[int] = frozenset(
    tag for tag, entry in DicomDictionary.items()
    if entry[4].endswith(("Description", "Comment", "Comments")) and tag not in deid_table.ACTIONS)


class Method(str, Enum):
    """CID 7050 De-identification Method codes (scheme DCM) for what this module applies."""

    BASIC = "113100"
    CLEAN_DESCRIPTORS = "113105"
    RETAIN_LONGITUDINAL_MODIFIED_DATES = "113106"
    RETAIN_UIDS = "113110"


METHOD_CODES = {
    Method.BASIC: "Basic Application Confidentiality Profile",
    Method.CLEAN_DESCRIPTORS: "Clean Descriptors Option",
    Method.RETAIN_LONGITUDINAL_MODIFIED_DATES: "Retain Longitudinal Temporal Information Modified Dates Option",
    Method.RETAIN_UIDS: "Retain UIDs Option",
}
METHOD_TEXT = f"MedCloudCare PS3.15 {deid_table.EDITION} Basic Profile"

PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD = 0x00120063
DEIDENTIFICATION_METHOD_CODES = 0x00120064
LONGITUDINAL_MODIFIED = 0x00280303
BURNED_IN_ANNOTATION = 0x00280301
MODALITY = 0x00080060
SPECIFIC_CHARACTER_SET = 0x00080005


class Act(str, Enum):
    """What happens to one element."""

    REMOVE = "remove"
    EMPTY = "empty"
    DUMMY = "dummy"
    PSEUDONYM = "pseudonym"
    SHIFT = "shift"
    KEEP = "keep"
    WALK = "walk"  # a sequence kept, its items de-identified


@dataclass(frozen=True)
class Deidentified:
    """What `deidentify` took out (to seal) and what it noticed about the pixels."""

    originals: Originals
    burned_in: str | None


def pseudonym(kind: str, value: str) -> str:
    """A stable pseudonym: the same original gives the same pseudonym, and nothing of it shows."""
    digest = keyed_hash(value, purpose=f"pseudonym-{kind}").upper()
    return f"ANON^{digest[:10]}" if kind == "name" else f"P{digest[:15]}"


def date_shift_days(patient_key: str) -> int:
    """The patient's keyed date offset in days: in ±MAX_SHIFT_DAYS, never 0, the same for every instance."""
    n = int(keyed_hash(patient_key, purpose="date-shift")[:12], 16) % (2 * MAX_SHIFT_DAYS)
    return n - MAX_SHIFT_DAYS if n < MAX_SHIFT_DAYS else n - MAX_SHIFT_DAYS + 1


def table_action(tag: int) -> str | None:
    """The table's action code for a tag, repeating groups (curves, overlays) included."""
    code = deid_table.ACTIONS.get(tag)
    if code is None and (tag >> 24) in (0x50, 0x60):
        code = next((c for t, mask, c in deid_table.MASKED if tag & mask == t & mask), None)
    return code


def act_for(tag: int, vr: str | None, code: str | None) -> Act:
    """How the options resolve a table code (None: not listed) for an element of this VR (see Options)."""
    if vr == "SQ":
        if code is None or code == "X/Z/U*":
            return Act.WALK
        return Act.EMPTY if code in ("Z", "X/Z") else Act.REMOVE
    if code is None:
        return Act.EMPTY if tag in DESCRIPTORS or vr in FREE_TEXT_VRS else Act.KEEP
    if tag in PSEUDONYMS:
        return Act.PSEUDONYM
    if vr in ("DA", "DT"):
        return Act.SHIFT
    if code == "U" or vr == "TM" and code != "X":
        return Act.KEEP
    if code == "X":
        return Act.REMOVE
    return Act.DUMMY if code in ("D", "X/D", "X/Z/D") else Act.EMPTY


def burned_in_flag(ds: Dataset) -> str | None:
    """"yes", "suspected" (a modality known for text in the pixels, without the attribute), or None."""
    said = _text(ds.get_item(BURNED_IN_ANNOTATION))
    if said is not None and said.strip().upper() == "YES":
        return "yes"
    modality = (_text(ds.get_item(MODALITY)) or "").strip().upper()
    return "suspected" if said is None and modality in BURNED_IN_MODALITIES else None


def deidentify(ds: Dataset, *, patient_key: str) -> Deidentified:
    """Apply the profile in place (one walk, dict lookups); `patient_key` is the keyed patient-ID hash (dates)."""
    burned_in = burned_in_flag(ds)
    walk = _Walk(date_shift_days(patient_key), ds)
    walk.clean(ds, top=True)
    for tag in ALWAYS_SEALED:
        if tag in ds and tag not in walk.taken:
            walk.taken[tag] = walk._encoded(ds.get_item(tag))
    added = walk.mark(ds)
    sop = ds.get_item(0x00080018)
    return Deidentified(Originals.taken(walk.taken, implicit=walk.implicit, charset=walk.charset, added=added,
                                        sop_uid=_text(sop)), burned_in)


class _Walk:
    """One pass over a data set: top-level elements it changes are encoded (as they were) into `taken`."""

    def __init__(self, shift_days: int, ds: Dataset) -> None:
        self.shift = dt.timedelta(days=shift_days)
        self.implicit = is_implicit(ds)
        charset = _text(ds.get_item(SPECIFIC_CHARACTER_SET))  # read as written: the element stays raw
        values = [v.strip() for v in charset.split("\\")] if charset is not None else None
        self.charset = values[0] if values is not None and len(values) == 1 else values
        self.encodings = ds._character_set
        self.source = part10.read_from(ds)
        self.taken: dict[int, bytes] = {}

    def clean(self, ds: Dataset, *, top: bool = False) -> bool:
        """De-identify one data set (the instance, or an item); whether anything changed."""
        changed = False
        creators = _creators(ds)
        kept_blocks: set[tuple[int, int]] = set()
        for tag in list(ds.keys()):
            tag = int(tag)
            if tag >> 16 == 0x0002:
                continue
            raw = ds.get_item(tag)
            act = self._act(tag, raw, creators, kept_blocks)
            if act is Act.KEEP:
                continue
            # A value changed in place must be encoded first; a raw element (immutable) or a removal can wait.
            before = self._encoded(raw) if top and act is not Act.REMOVE and not isinstance(raw, RawDataElement) \
                else None
            if self._apply(ds, tag, raw, act):
                changed = True
                if top:
                    self.taken[tag] = before if before is not None else self._encoded(raw)
        for group, block in creators:
            creator_tag = (group << 16) | block
            if (group, block) not in kept_blocks:
                if top:
                    self.taken[creator_tag] = self._encoded(ds.get_item(creator_tag))
                del ds[creator_tag]
                changed = True
        return changed

    def _encoded(self, elem: DataElement | RawDataElement) -> bytes:
        """The element as it came in (an original to seal), encoded by pydicom only when those bytes are not known."""
        as_read = part10.as_read(elem, implicit=self.implicit, source=self.source)
        return as_read if as_read is not None else encode_element(elem, implicit=self.implicit,
                                                                   encodings=self.encodings)

    def _act(self, tag: int, raw: DataElement | RawDataElement, creators: dict, kept_blocks: set) -> Act:
        """What the profile and its options do to this element (private creators wait for their block)."""
        group, element = tag >> 16, tag & 0xFFFF
        if element == 0:  # a group length: no longer true once elements go
            return Act.REMOVE
        if group & 1:
            if 0x10 <= element <= 0xFF:
                return Act.KEEP
            creator = creators.get((group, element >> 8))
            if creator is not None and (creator, group, element & 0xFF) in SAFE_PRIVATE:
                kept_blocks.add((group, element >> 8))
                return Act.KEEP
            return Act.REMOVE
        return act_for(tag, raw.VR or _dictionary_vr(tag), table_action(tag))

    def _apply(self, ds: Dataset, tag: int, raw: DataElement | RawDataElement, act: Act) -> bool:
        """Do it; whether the element changed (a sequence left as it was is put back as it was read)."""
        if act is Act.REMOVE:
            del ds[tag]
            return True
        if act is Act.WALK:
            return self._walk_sequence(ds, tag, raw)
        elem = ds[tag]
        vr = elem.VR
        if elem.is_empty:
            return False
        if act is Act.EMPTY:
            elem.value = Sequence() if vr == "SQ" else (b"" if isinstance(DUMMY.get(vr), bytes) else None)
        elif act is Act.PSEUDONYM:
            elem.value = pseudonym(PSEUDONYMS[tag], str(elem.value))
        elif act is Act.SHIFT:
            elem.value = self._shifted(elem.value, vr)
        elif vr == "UI":
            elem.value = "2.25." + str(int(keyed_hash(str(elem.value), purpose="dummy-uid")[:30], 16))
        else:
            elem.value = DUMMY.get(vr, b"\0\0")
        return True

    def _walk_sequence(self, ds: Dataset, tag: int, raw) -> bool:
        changed = False
        for item in ds[tag].value:
            changed = self.clean(item) or changed
        if not changed:
            ds._dict[tag] = raw  # as read: an untouched sequence reaches the archive byte for byte
        return changed

    def _shifted(self, value: object, vr: str) -> str:
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        out = [self._shift_one(str(v), vr) for v in values]
        return "\\".join(out) if len(out) > 1 else out[0]

    def _shift_one(self, text: str, vr: str) -> str:
        """One DA or DT value moved by the patient's offset; "" when it is not a full date (nothing to keep)."""
        text = text.strip()
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date() + self.shift
        except (ValueError, OverflowError):
            return ""
        if vr == "DA" and len(text) != 8:
            return ""
        return day.strftime("%Y%m%d") + (text[8:] if vr == "DT" else "")

    def mark(self, ds: Dataset) -> list[int]:
        """Say what was done (the profile's own attributes); the tags the instance did not hold before."""
        added = []
        for tag, elem in _marks(self.implicit, _encodings_key(self.encodings)).items():
            if tag in ds:
                self.taken.setdefault(tag, self._encoded(ds.get_item(tag)))
            else:
                added.append(tag)
            ds[tag] = elem
        return added


@functools.lru_cache(maxsize=16)
def _marks(implicit: bool, encodings: tuple[str, ...] | None) -> dict[int, RawDataElement]:
    """The profile's attributes, encoded once per encoding and put in every instance as read-only raw elements
    (pydicom reads them back on access; the archive's copy is written from their bytes)."""
    codes = Sequence()
    for method, meaning in METHOD_CODES.items():
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = method.value, "DCM", meaning
        codes.append(item)
    values = {PATIENT_IDENTITY_REMOVED: ("CS", "YES"), DEIDENTIFICATION_METHOD: ("LO", METHOD_TEXT),
              DEIDENTIFICATION_METHOD_CODES: ("SQ", codes), LONGITUDINAL_MODIFIED: ("CS", "MODIFIED")}
    marks = {}
    for tag, (vr, value) in values.items():
        encoded = encode_element(DataElement(tag, vr, value), implicit=implicit,
                                 encodings=list(encodings) if encodings is not None else None)
        head = 8 if implicit or vr not in EXPLICIT_VR_LENGTH_32 else 12
        marks[tag] = RawDataElement(tag, None if implicit else vr, len(encoded) - head, encoded[head:], None,
                                    implicit, True)
    return marks


def _encodings_key(encodings: str | list[str] | None) -> tuple[str, ...] | None:
    if encodings is None:
        return None
    return (encodings,) if isinstance(encodings, str) else tuple(encodings)


def _dictionary_vr(tag: int) -> str | None:
    entry = DicomDictionary.get(tag)
    return entry[0] if entry else None


def _creators(ds: Dataset) -> dict[tuple[int, int], str]:
    """Private creators of a data set by (group, block), read without decoding the elements in place."""
    found = {}
    for tag in ds.keys():
        group, element = tag >> 16, tag & 0xFFFF
        if group & 1 and 0x10 <= element <= 0xFF:
            found[(group, element)] = _text(ds.get_item(tag)) or ""
    return {k: v.strip(" \0") for k, v in found.items()}


def _text(elem: DataElement | RawDataElement | None) -> str | None:
    """A short text value as written (raw bytes decoded as ASCII-compatible), without converting the element."""
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \0")
    return None if value is None else str(value)
