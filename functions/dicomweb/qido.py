"""QIDO-RS: studies answered from the index (filtered in SQL by what the caller may see); series and
instances from Orthanc, within one authorised study (and a series the index says it holds), with
originals restored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from functions.common.access.policy import Action, study_for, study_sources
from functions.common.dicom import originals
from functions.common.dicom.index import Study
from functions.common.dicom.search import StudyFilter, original_date, parse_dicom_date_range, search
from functions.common.http import paging, paging_query
from functions.common.platform.errors import ValidationFailed
from functions.common.security import audit
from functions.common.security.tokens import Principal
from functions.dicomweb import archive

STUDY_MAX_LIMIT = 1000
WITHIN_MAX_LIMIT = 100_000  # a study's instances: Orthanc pages them, the gateway only checks the numbers
_TEXT = {"type": "string"}


def _keys(**schemas: dict) -> dict[str, dict]:
    """Matching keys by keyword and by tag (`PatientName` and `00100010`), with the JSON Schema of their values."""
    return {name: schema for keyword, (tag, schema) in schemas.items() for name in (keyword, tag)}


# The query keys each QIDO-RS level reads (anything else is refused by name), as its OpenAPI document declares them.
STUDY_QUERY = {**_keys(PatientName=("00100010", _TEXT), PatientID=("00100020", _TEXT), StudyDate=("00080020", _TEXT),
                       ModalitiesInStudy=("00080061", _TEXT), StudyInstanceUID=("0020000D", _TEXT)),
               "includefield": _TEXT, "fuzzymatching": _TEXT, **paging_query(max_limit=STUDY_MAX_LIMIT)}
SERIES_QUERY = {**_keys(Modality=("00080060", _TEXT), SeriesInstanceUID=("0020000E", _TEXT),
                        SeriesNumber=("00200011", _TEXT)),
                "includefield": _TEXT, **paging_query(max_limit=WITHIN_MAX_LIMIT)}
INSTANCE_QUERY = {**_keys(SOPInstanceUID=("00080018", _TEXT), InstanceNumber=("00200013", _TEXT),
                          SOPClassUID=("00080016", _TEXT)),
                  "includefield": _TEXT, **paging_query(max_limit=WITHIN_MAX_LIMIT)}


@dataclass(frozen=True)
class StudyQuery:
    """A QIDO-RS study search: its filter and its page."""

    filter: StudyFilter
    limit: int
    offset: int


def _arg(args, *names: str) -> str | None:
    for n in names:
        if args.get(n):
            return args.get(n)
    return None


def _check_keys(args, allowed: dict[str, dict]) -> None:
    unknown = sorted(k for k in args if k not in allowed)
    if unknown:
        raise ValidationFailed.field(unknown[0], "is not a supported query key here (supported: "
                                     + ", ".join(sorted(k for k in allowed if not k[0].isdigit())) + ")")


def study_query(args) -> StudyQuery:
    """The search a QIDO-RS query string asks for; unknown keys and bad values are refused by name."""
    _check_keys(args, STUDY_QUERY)
    date_from = date_to = None
    if date := _arg(args, "StudyDate", "00080020"):
        date_from, date_to = parse_dicom_date_range(date, field="StudyDate")
    uids = _arg(args, "StudyInstanceUID", "0020000D")
    f = StudyFilter(patient_name=_arg(args, "PatientName", "00100010"), patient_id=_arg(args, "PatientID", "00100020"),
                    modality=_arg(args, "ModalitiesInStudy", "00080061"), date_from=date_from, date_to=date_to,
                    study_uids=tuple(u.strip() for u in uids.replace("\\", ",").split(",")) if uids else ())
    limit, offset = paging(args, default_limit=100, max_limit=STUDY_MAX_LIMIT)
    return StudyQuery(f, limit, offset)


def _attr(tag: str, vr: str, value: Any) -> dict[str, Any]:
    return {tag: {"vr": vr, "Value": [value]} if value not in (None, "", []) else {"vr": vr}}


def study_json(study: Study) -> dict[str, Any]:
    """A study as a QIDO-RS result, from the index and the study's originals: the date unshifted from the index,
    time and description only from the sealed originals (the index holds neither)."""
    item: dict[str, Any] = {}
    item.update({"00080061": {"vr": "CS", "Value": list(study.modalities)} if study.modalities else {"vr": "CS"}})
    item.update(_attr("0020000D", "UI", study.study_uid))
    item.update(_attr("00201206", "IS", study.num_series))
    item.update(_attr("00201208", "IS", study.num_instances))
    for tag, vr in (("00100010", "PN"), ("00100020", "LO"), ("00100030", "DA"), ("00080050", "SH"),
                    ("00080090", "PN")):
        item[tag] = {"vr": vr}
    sealed = originals.of_study(study)
    originals.restore_json(item, {t: v for t, v in sealed.items() if t in item})
    day = original_date(study)
    item.update(_attr("00080020", "DA", day.strftime("%Y%m%d") if day else None))
    for tag, vr in (("00080030", "TM"), ("00081030", "LO")):
        item[tag] = sealed.get(tag) or {"vr": vr}
    return item


def search_studies(db: Session, principal: Principal, query: StudyQuery, *, client_ip: str | None) -> list[dict]:
    """Studies the caller may read that match, newest first."""
    studies = search(db, study_sources(db, principal), query.filter, sort="date", limit=query.limit,
                     offset=query.offset).studies
    audit.record(db, "study_search", actor_id=principal.user_id, client_ip=client_ip,
                 details={"results": len(studies)})
    return [study_json(s) for s in studies]


def search_within(db: Session, principal: Principal, study_uid: str, series_uid: str | None, level: str, args, *,
                  client_ip: str | None) -> list[dict[str, Any]]:
    """QIDO for the series of a study, or the instances of a study or series, the caller may read."""
    study = study_for(db, principal, study_uid, Action.READ, series_uid=series_uid)
    _check_keys(args, SERIES_QUERY if level == "series" else INSTANCE_QUERY)
    paging(args, default_limit=1, max_limit=WITHIN_MAX_LIMIT)  # checked here, passed on as given
    path = f"/series/{series_uid}/instances" if series_uid else f"/{level}"
    resp = archive.read(f"/dicom-web/studies/{study.study_uid}{path}", accept="application/dicom+json",
                        params=list(args.items(multi=True)), missing="No such series in this study.",
                        refused=lambda: ValidationFailed("The image archive cannot answer this search; check the "
                                                         "values of its query keys."))
    items = resp.json() if resp.content else []
    audit.record(db, "study_search", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"study:{study.study_uid}", details={"level": level})
    return originals.restore_items(db, study, items)
