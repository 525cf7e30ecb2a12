"""Study originals: the identifying attributes pseudonymisation took out of each instance, sealed
under the study's data key, and put back for readers who may see the study.

Every study has its own AES-256-GCM data key, wrapped by the platform's key-encryption key (bound
to the study UID) and kept on the study's row: deleting the row destroys the key, and with it every original
(crypto-shredding). Each sealed value is bound to where it belongs by one associated-data rule
(`_aad`): the study UID for the study-level originals, "study UID/SOP instance UID" for an
instance's. A value copied to another study or instance does not open.
"""

from __future__ import annotations

import json
from typing import Any

from pydicom import Dataset
from pydicom.datadict import tag_for_keyword
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.common.dicom.deidentify import REPLACE, TAGS
from functions.common.dicom.index import Instance, Series, Study
from functions.common.security.crypto import WrappedKey, envelope, open_with_key, seal_with_key

Originals = dict[str, Any]  # DICOM JSON by tag ("00100010": {"vr": "PN", "Value": [...]})


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


def seal(key: bytes, originals: Originals, *, study_uid: str, sop_uid: str | None = None) -> bytes:
    """Seal the originals of a study (no `sop_uid`) or of one of its instances."""
    return seal_with_key(key, json.dumps(originals).encode(), aad=_aad(study_uid, sop_uid))


def open_sealed(key: bytes, blob: bytes, *, study_uid: str, sop_uid: str | None = None) -> Originals:
    """The originals `seal` sealed for the same study (and instance)."""
    return json.loads(open_with_key(key, blob, aad=_aad(study_uid, sop_uid)))


def of_study(study: Study, key: bytes | None = None) -> Originals:
    """The study-level originals (those of the first instance stored), for authorised readers."""
    if study.originals_enc is None:
        return {}
    return open_sealed(key or study_key(study), study.originals_enc, study_uid=study.study_uid)


def of_instances(db: Session, study: Study, sop_uids: list[str], key: bytes | None = None) -> dict[str, Originals]:
    """Per-instance originals of the given instances of one study."""
    key = key or study_key(study)
    rows = db.execute(select(Instance.sop_uid, Instance.originals_enc).join(Series)
                      .where(Series.study_pk == study.id, Instance.sop_uid.in_(sop_uids)))
    return {uid: open_sealed(key, blob, study_uid=study.study_uid, sop_uid=uid) for uid, blob in rows}


def restore_json(item: dict[str, Any], originals: Originals) -> dict[str, Any]:
    """Put original attributes back into one DICOM JSON object (QIDO result or metadata)."""
    for tag in TAGS:
        item.pop(tag, None)
    item.update(originals)
    return item


def restore_items(db: Session, study: Study, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Restore originals in DICOM JSON objects from the archive: per instance when it is one, else per study."""
    key = study_key(study)
    sop_uids = [i["00080018"]["Value"][0] for i in items if i.get("00080018", {}).get("Value")]
    per_instance = of_instances(db, study, sop_uids, key) if sop_uids else {}
    study_level = of_study(study, key)
    for item in items:
        uid = item.get("00080018", {}).get("Value", [None])[0]
        source = per_instance.get(uid, study_level)
        present = {t for t in TAGS if t in item}
        for tag in present:
            item.pop(tag)
        item.update({t: v for t, v in source.items() if t in present or uid in per_instance})
    return items


def restore_dataset(ds: Dataset, originals: Originals) -> Dataset:
    """Put original attributes back into a dataset before it leaves the gateway."""
    for keyword in REPLACE:
        if keyword in ds:
            del ds[keyword]
    if originals:
        restored = Dataset.from_json(json.dumps(originals))
        for elem in restored:
            ds[elem.tag] = elem
    return ds


def keyword_value(originals: Originals, keyword: str) -> str | None:
    """One original value as text (e.g. for the portal's study list), or None."""
    tag = f"{tag_for_keyword(keyword):08X}"
    entry = originals.get(tag)
    if not entry or not entry.get("Value"):
        return None
    value = entry["Value"][0]
    return value.get("Alphabetic") if isinstance(value, dict) else str(value)
