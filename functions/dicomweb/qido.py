"""QIDO-RS: studies answered from the index (filtered in SQL by what the caller may see);
series and instances from Orthanc, within one authorised study, with originals restored."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from functions.common import audit, pseudonyms
from functions.common.authz import Action, require_patient_data_access, study_for, visible_studies
from functions.common.crypto import open_with_key
from functions.common.errors import ValidationFailed
from functions.common.http import RequestContext, paging
from functions.common.index import Instance, Series, Study
from functions.common.orthanc import orthanc
from functions.common.study_query import StudyFilter, apply, originals, page, parse_dicom_date_range, study_key

STUDY_KEYS = {"PatientName", "00100010", "PatientID", "00100020", "StudyDate", "00080020", "ModalitiesInStudy",
              "00080061", "StudyInstanceUID", "0020000D", "limit", "offset", "includefield", "fuzzymatching"}
SERIES_KEYS = {"limit", "offset", "includefield", "Modality", "00080060", "SeriesInstanceUID", "0020000E",
               "SeriesNumber", "00200011"}
INSTANCE_KEYS = {"limit", "offset", "includefield", "SOPInstanceUID", "00080018", "InstanceNumber", "00200013",
                 "SOPClassUID", "00080016"}


def _arg(args, *names: str) -> str | None:
    for n in names:
        if args.get(n):
            return args.get(n)
    return None


def _check_keys(args, allowed: set[str]) -> None:
    unknown = sorted(k for k in args if k not in allowed)
    if unknown:
        raise ValidationFailed.field(unknown[0], "is not a supported query key here (supported: "
                                     + ", ".join(sorted(k for k in allowed if not k[0].isdigit())) + ")")


def _attr(tag: str, vr: str, value: Any) -> dict[str, Any]:
    return {tag: {"vr": vr, "Value": [value]} if value not in (None, "", []) else {"vr": vr}}


def study_json(study: Study) -> dict[str, Any]:
    item: dict[str, Any] = {}
    item.update(_attr("00080020", "DA", study.study_date.strftime("%Y%m%d") if study.study_date else None))
    item.update(_attr("00080030", "TM", study.study_time))
    item.update({"00080061": {"vr": "CS", "Value": list(study.modalities)} if study.modalities else {"vr": "CS"}})
    item.update(_attr("00081030", "LO", study.description))
    item.update(_attr("0020000D", "UI", study.study_uid))
    item.update(_attr("00201206", "IS", study.num_series))
    item.update(_attr("00201208", "IS", study.num_instances))
    for tag, vr in (("00100010", "PN"), ("00100020", "LO"), ("00100030", "DA"), ("00080050", "SH"),
                    ("00080090", "PN")):
        item[tag] = {"vr": vr}
    return pseudonyms.restore_json(item, {t: v for t, v in originals(study).items() if t in item})


def search_studies(ctx: RequestContext) -> list[dict[str, Any]]:
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    args = ctx.request.args
    _check_keys(args, STUDY_KEYS)
    date_from = date_to = None
    if date := _arg(args, "StudyDate", "00080020"):
        date_from, date_to = parse_dicom_date_range(date, field="StudyDate")
    uids = _arg(args, "StudyInstanceUID", "0020000D")
    f = StudyFilter(patient_name=_arg(args, "PatientName", "00100010"), patient_id=_arg(args, "PatientID", "00100020"),
                    modality=_arg(args, "ModalitiesInStudy", "00080061"), date_from=date_from, date_to=date_to,
                    study_uids=tuple(u.strip() for u in uids.replace("\\", ",").split(",")) if uids else ())
    limit, offset = paging(args, default_limit=100, max_limit=1000)
    studies, _ = page(ctx.db, apply(visible_studies(principal), f), sort="date", limit=limit, offset=offset,
                      with_total=False)
    audit.record(ctx.db, "study_search", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 details={"results": len(studies)})
    return [study_json(s) for s in studies]


def _instance_originals(ctx: RequestContext, study: Study, sop_uids: list[str]) -> dict[str, dict]:
    """Per-instance original attributes, decrypted with the study's key."""
    key = study_key(study)
    rows = ctx.db.execute(select(Instance.sop_uid, Instance.originals_enc).join(Series)
                          .where(Series.study_pk == study.id, Instance.sop_uid.in_(sop_uids)))
    return {uid: json.loads(open_with_key(key, blob, aad=f"{study.study_uid}/{uid}".encode())) for uid, blob in rows}


def restore_items(ctx: RequestContext, study: Study, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Restore originals in DICOM JSON objects from Orthanc: per instance when it is one, else per study."""
    sop_uids = [i["00080018"]["Value"][0] for i in items if i.get("00080018", {}).get("Value")]
    per_instance = _instance_originals(ctx, study, sop_uids) if sop_uids else {}
    study_level = originals(study)
    for item in items:
        uid = item.get("00080018", {}).get("Value", [None])[0]
        source = per_instance.get(uid, study_level)
        present = {t for t in pseudonyms.TAGS if t in item}
        for tag in present:
            item.pop(tag)
        item.update({t: v for t, v in source.items() if t in present or uid in per_instance})
    return items


def search_within(ctx: RequestContext, study_uid: str, path: str, allowed: set[str]) -> list[dict[str, Any]]:
    """QIDO for series or instances of one study the caller may read."""
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    study = study_for(ctx.db, principal, study_uid, Action.READ)
    _check_keys(ctx.request.args, allowed)
    resp = orthanc().request("GET", f"/dicom-web/studies/{study.study_uid}{path}",
                             params=list(ctx.request.args.items(multi=True)),
                             headers={"Accept": "application/dicom+json"})
    items = resp.json() if resp.status_code == 200 and resp.content else []
    audit.record(ctx.db, "study_search", actor_id=principal.user_id, client_ip=ctx.client_ip,
                 target=f"study:{study.study_uid}", details={"level": path.split("/")[-1]})
    return restore_items(ctx, study, items)
