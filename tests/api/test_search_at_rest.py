"""The study index at rest and its search: dates stored shifted per owner yet searched and ordered by the originals
across owners, deep pages by cursor and offset, and no date, time or description in clear in PostgreSQL while QIDO
and the portal show the originals to readers."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from mcc_local.dicomgen import Patient, ct_series
from sqlalchemy import text

from tests.support.dicomweb import stow

# who stores each study, its original date, and whether it is shared with the reader
STUDIES = {
    "r1": ("reader", "20200310", False), "r2": ("reader", "20180701", False),
    "a1": ("owner_a", "20200305", True), "a2": ("owner_a", "20191231", True), "a3": ("owner_a", "20200307", False),
    "b1": ("owner_b", "20200312", True), "b2": ("owner_b", "20170115", True),
}
VISIBLE_NEWEST_FIRST = ["b1", "r1", "a1", "a2", "r2", "b2"]


@pytest.fixture(scope="module")
def index(factory):
    """A reader with two studies of their own and four shared by two other owners (different date shifts): owner
    A's with the reader, owner B's with a group of B's that the reader is in."""
    tag = uuid.uuid4().hex[:6].upper()
    people = {who: factory.create("health_professional") for who in ("reader", "owner_a", "owner_b")}
    r = people["owner_b"].client.post("/api/groups", json={"name": f"Readers {tag}"})
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]
    r = people["owner_b"].client.post(f"/api/groups/{group_id}/members", json={"email": people["reader"].email})
    assert r.status_code == 201, r.text
    grantee = {"owner_a": {"email": people["reader"].email}, "owner_b": {"group_id": group_id}}
    uids = {}
    for key, (who, day, shared) in STUDIES.items():
        series = ct_series(Patient(name=f"ATREST{tag}^{key.upper()}", patient_id=f"AR-{tag}-{key}"), slices=1,
                           rows=16, columns=16, study_date=day)
        for ds in series:
            ds.StudyTime, ds.StudyDescription = "101500", f"Chest {tag} {key}"
            ds.SeriesDescription = f"Axial {tag} {key}"
        assert stow(people[who].client, series).status_code == 200
        uids[key] = str(series[0].StudyInstanceUID)
        if shared:
            r = people[who].client.post(f"/api/shares/studies/{uids[key]}", json={**grantee[who], "level": "read"})
            assert r.status_code == 201, r.text
    return {"tag": tag, "uids": uids, "key_of": {v: k for k, v in uids.items()}, **people}


def _portal(index, **params) -> dict:
    r = index["reader"].client.get("/api/studies", params={"patient_name": f"atrest{index['tag'].lower()}*",
                                                           **params})
    assert r.status_code == 200, r.text
    return r.json()


def _qido(index, **params) -> list[dict]:
    r = index["reader"].client.get("/dicom-web/studies", params={"PatientName": f"ATREST{index['tag']}*", **params})
    assert r.status_code == 200, r.text
    return r.json()


def _value(item: dict, tag: str):
    return item.get(tag, {}).get("Value", [None])[0]


def _keys_portal(index, body: dict) -> list[str]:
    return [index["key_of"][i["study_uid"]] for i in body["items"]]


def _keys_qido(index, items: list[dict]) -> list[str]:
    return [index["key_of"][_value(i, "0020000D")] for i in items]


def test_a_range_of_original_dates_finds_exactly_the_own_and_shared_studies_in_it(index):
    march = {"b1", "r1", "a1"}  # a3 is in March too, but not shared with the reader
    assert set(_keys_portal(index, _portal(index, date_from="2020-03-01", date_to="2020-03-31"))) == march
    assert set(_keys_qido(index, _qido(index, StudyDate="20200301-20200331"))) == march
    assert _keys_portal(index, _portal(index, date_from="2019-12-31", date_to="2019-12-31")) == ["a2"]
    assert _keys_qido(index, _qido(index, StudyDate="20191231")) == ["a2"]
    assert set(_keys_qido(index, _qido(index, StudyDate="-20180701"))) == {"r2", "b2"}
    assert set(_keys_portal(index, _portal(index, date_from="2020-03-06", scope="shared"))) == {"b1"}


def test_own_and_shared_studies_are_newest_first_by_original_date_across_owners(index):
    assert _keys_portal(index, _portal(index)) == VISIBLE_NEWEST_FIRST
    assert _keys_portal(index, _portal(index, sort="-date")) == VISIBLE_NEWEST_FIRST[::-1]
    assert _keys_qido(index, _qido(index)) == VISIBLE_NEWEST_FIRST
    body = _portal(index)
    assert body["total"] == 6 and body["total_exact"] is True


def test_pages_by_cursor_and_by_offset_return_every_study_once_in_order(index):
    by_cursor, params = [], {"limit": 2}
    while True:
        body = _portal(index, **params)
        by_cursor += _keys_portal(index, body)
        if not body["next_cursor"]:
            break
        params = {"limit": 2, "cursor": body["next_cursor"]}
    by_offset = [k for offset in (0, 2, 4) for k in _keys_qido(index, _qido(index, limit=2, offset=offset))]
    assert by_cursor == by_offset == VISIBLE_NEWEST_FIRST


def test_a_damaged_cursor_is_a_422_naming_it(index):
    r = index["reader"].client.get("/api/studies", params={"cursor": "bm90IGEgY3Vyc29y"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"


def test_the_database_holds_no_original_date_and_no_description(index, owner_engine):
    uids = index["uids"]
    with owner_engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT study_uid, study_date FROM studies WHERE study_uid = ANY(:u)"),
                                 {"u": list(uids.values())}).all())
        dumped = " ".join(conn.execute(text(
            "SELECT row_to_json(s)::text || ' ' || coalesce((SELECT string_agg(row_to_json(e)::text, ' ') "
            "FROM series e WHERE e.study_pk = s.id), '') FROM studies s WHERE study_uid = ANY(:u)"),
            {"u": list(uids.values())}).scalars())
        columns = set(conn.execute(text("SELECT table_name || '.' || column_name FROM information_schema.columns "
                                        "WHERE table_name IN ('studies', 'series')")).scalars())
    original = {k: dt.datetime.strptime(day, "%Y%m%d").date() for k, (_, day, _) in STUDIES.items()}
    assert all(rows[uids[k]] != original[k] for k in STUDIES)
    # one owner's shift is one number: intervals between that owner's studies survive, the dates do not
    assert rows[uids["a1"]] - rows[uids["a2"]] == original["a1"] - original["a2"]
    assert {rows[uids[k]] - original[k] for k in ("r1", "a1", "b1")} == {rows[uids[k]] - original[k]
                                                                           for k in ("r2", "a2", "b2")}
    assert len({rows[uids[k]] - original[k] for k in ("r1", "a1", "b1")}) == 3
    assert index["tag"] not in dumped and "Chest" not in dumped and "Axial" not in dumped
    assert not any(day in dumped for _, day, _ in STUDIES.values())
    assert not {"studies.description", "studies.study_time", "series.description"} & columns


def test_readers_see_the_original_date_time_and_description_in_qido_and_the_portal(index):
    items = {index["key_of"][_value(i, "0020000D")]: i for i in _qido(index)}
    portal = {index["key_of"][i["study_uid"]]: i for i in _portal(index)["items"]}
    for key in VISIBLE_NEWEST_FIRST:
        day = STUDIES[key][1]
        assert _value(items[key], "00080020") == day
        assert _value(items[key], "00080030") == "101500"
        assert _value(items[key], "00081030") == f"Chest {index['tag']} {key}"
        assert portal[key]["study_date"] == f"{day[:4]}-{day[4:6]}-{day[6:]}"
        assert portal[key]["description"] == f"Chest {index['tag']} {key}"


def test_migration_0012_shifts_the_dates_of_existing_studies_and_its_downgrade_restores_them(index, owner_engine):
    """Down to 0011 (clear dates, the dropped columns back, empty) and up again, on the suite's own database."""
    from alembic import command

    from functions.common.platform.migrate import alembic_config

    config = alembic_config(owner_engine.url.render_as_string(hide_password=False))
    uids = list(index["uids"].values())

    def dates() -> dict[str, dt.date]:
        with owner_engine.connect() as conn:
            return dict(conn.execute(text("SELECT study_uid, study_date FROM studies WHERE study_uid = ANY(:u)"),
                                     {"u": uids}).all())

    stored = dates()
    command.downgrade(config, "0011")
    try:
        original = {index["uids"][k]: dt.datetime.strptime(day, "%Y%m%d").date() for k, (_, day, _) in STUDIES.items()}
        assert dates() == original
    finally:
        command.upgrade(config, "head")
    assert dates() == stored
