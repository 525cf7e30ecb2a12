"""Groups and shares through the real `sharing` function: what users can do, what bad input gets,
the mails and the audit trail (the permission matrix is test_permission_matrix.py)."""

from __future__ import annotations

import re
import uuid

import pytest
from mcc_local.dicomgen import Patient, ct_series
from sqlalchemy import select

from functions.common.access.tables import Group, GroupMember, StudyShare
from functions.common.dicom.index import Instance, Study
from functions.common.platform import db
from functions.common.security.audit import AuditEvent
from functions.sharing.views import api as sharing_api
from tests.support.dicomweb import stow
from tests.support.json_examples import example
from tests.support.problem import assert_problem


def _study(account, name: str = "SHARE^CASE", patient_id: str | None = None) -> str:
    patient = Patient(name=name, patient_id=patient_id or f"S-{uuid.uuid4().hex[:8]}")
    series = ct_series(patient, slices=2, rows=16, columns=16)
    r = stow(account.client, series)
    assert r.status_code == 200, r.text
    return str(series[0].StudyInstanceUID)


def _group(owner, *members, name: str = "Team") -> dict:
    r = owner.client.post("/api/groups", json={"name": name})
    assert r.status_code == 201, r.text
    group = r.json()
    for m in members:
        r = owner.client.post(f"/api/groups/{group['id']}/members", json={"email": m.email})
        assert r.status_code == 201, r.text
    return owner.client.get(f"/api/groups/{group['id']}").json()


def _audit_actions(target: str) -> list[str]:
    with db.session_scope() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.target == target)
                                    .order_by(AuditEvent.id)))


@pytest.fixture(scope="module")
def doctors(factory):
    return [factory.create("health_professional") for _ in range(4)]


# ------------------------------------------------------------------------------------------- groups

def test_group_lifecycle_roles_and_audit(doctors):
    a, b, c, d = doctors
    group = _group(a, b, name="  Cardiology   team ")
    assert group["name"] == "Cardiology team" and group["my_role"] == "owner" and group["member_count"] == 2
    assert [m["role"] for m in group["members"]] == ["owner", "member"]
    gid = group["id"]
    # b is a member: sees the group, may not add anyone; promoted to manager, b adds c
    assert b.client.get(f"/api/groups/{gid}").json()["my_role"] == "member"
    assert_problem(b.client.post(f"/api/groups/{gid}/members", json={"email": c.email}), 403, "not_group_manager")
    assert a.client.patch(f"/api/groups/{gid}/members/{b.id}", json={"role": "manager"}).status_code == 200
    assert b.client.post(f"/api/groups/{gid}/members", json={"email": c.email}).status_code == 201
    assert_problem(b.client.post(f"/api/groups/{gid}/members", json={"email": d.email, "role": "manager"}), 403,
                   "not_group_owner")
    assert_problem(b.client.delete(f"/api/groups/{gid}"), 403, "not_group_owner")
    # c leaves; the owner cannot leave before handing ownership over
    assert c.client.delete(f"/api/groups/{gid}/members/{c.id}").status_code == 204
    assert_problem(c.client.get(f"/api/groups/{gid}"), 404, "not_found")
    assert_problem(a.client.delete(f"/api/groups/{gid}/members/{a.id}"), 409, "owner_cannot_leave")
    r = a.client.post(f"/api/groups/{gid}/owner", json={"user_id": b.id})
    assert r.status_code == 200 and r.json()["owner"]["id"] == b.id and r.json()["my_role"] == "manager"
    assert a.client.delete(f"/api/groups/{gid}/members/{a.id}").status_code == 204  # now a may leave
    assert [g["id"] for g in a.client.get("/api/groups").json()["items"]].count(gid) == 0
    assert b.client.delete(f"/api/groups/{gid}").status_code == 204
    assert_problem(b.client.get(f"/api/groups/{gid}"), 404, "not_found")
    assert _audit_actions(f"group:{gid}") == [
        "group_created", "group_member_added", "group_member_role", "group_member_added", "group_left",
        "group_owner_transferred", "group_left", "group_deleted"]


@pytest.mark.parametrize("body, status, code", [
    ({"email": "nobody-here@example.org"}, 422, "unknown_user"),
    ({"email": "not an email"}, 422, "validation"),
    ({"email": "x@example.org", "role": "owner"}, 422, "validation"),
])
def test_adding_unknown_or_malformed_members_changes_nothing(doctors, body, status, code):
    group = _group(doctors[0])
    assert_problem(doctors[0].client.post(f"/api/groups/{group['id']}/members", json=body), status, code)
    assert doctors[0].client.get(f"/api/groups/{group['id']}").json()["member_count"] == 1


def test_duplicate_members_pending_accounts_and_bad_names_are_refused(factory, doctors):
    a, b = doctors[:2]
    group = _group(a, b)
    assert_problem(a.client.post(f"/api/groups/{group['id']}/members", json={"email": b.email}), 409,
                   "already_member")
    pending = factory.create("health_professional", status="pending")
    assert_problem(a.client.post(f"/api/groups/{group['id']}/members", json={"email": pending.email}), 422,
                   "unknown_user")
    for name in ("x" * 101, "   ", "tab\tname", "x" * 401):
        r = a.client.post("/api/groups", json={"name": name})
        assert r.status_code == 422, (name, r.text)
    assert_problem(a.client.patch(f"/api/groups/{group['id']}", json={"name": "y" * 101}), 422, "validation")
    assert a.client.get(f"/api/groups/{group['id']}").json()["name"] == "Team"
    assert_problem(a.client.post(f"/api/groups/{group['id']}/owner", json={"user_id": a.id}), 422, "already_owner")
    assert_problem(a.client.post(f"/api/groups/{group['id']}/owner", json={"user_id": str(uuid.uuid4())}), 422,
                   "not_a_member")
    assert_problem(a.client.patch(f"/api/groups/{group['id']}/members/{a.id}", json={"role": "member"}), 422,
                   "cannot_change_owner")


def test_ownership_can_go_back_and_forth_but_only_by_the_current_owner(doctors):
    a, b = doctors[:2]
    gid = _group(a, b)["id"]
    assert a.client.post(f"/api/groups/{gid}/owner", json={"user_id": b.id}).status_code == 200
    assert_problem(a.client.post(f"/api/groups/{gid}/owner", json={"user_id": a.id}), 403, "not_group_owner")
    assert b.client.post(f"/api/groups/{gid}/owner", json={"user_id": a.id}).status_code == 200
    with db.session_scope() as session:
        roles = dict(session.execute(select(GroupMember.user_id, GroupMember.role)
                                     .where(GroupMember.group_id == uuid.UUID(gid))).all())
        assert sorted(roles.values()) == ["manager", "owner"]
        assert session.get(Group, uuid.UUID(gid)).owner_id == uuid.UUID(a.id)


# ------------------------------------------------------------------------------------------- shares

def test_sharing_a_study_mails_the_grantee_lists_it_and_revoking_ends_access(doctors, mailbox):
    a, b = doctors[:2]
    uid = _study(a, "LIST^SHARED")
    r = a.client.post(f"/api/shares/studies/{uid}", json={"email": b.email.upper(), "level": "read"})
    assert r.status_code == 201, r.text
    share = r.json()
    assert share["grantee"] == {"type": "user", "user": {"id": b.id, "email": b.email, "name": "Test health_professional",
                                                         "role": "health_professional"}}
    msg = mailbox.wait_for(b.email, "shared")
    assert "LIST" not in msg["Subject"] and "read access" in msg.get_content()  # no patient data in mail
    listed = b.client.get("/api/studies", params={"scope": "shared"}).json()
    item = next(i for i in listed["items"] if i["study_uid"] == uid)
    assert item["access"] == "read" and item["owner"]["name"] == "Test health_professional"
    assert item["patient_name"] == "LIST^SHARED"
    assert uid not in [i["study_uid"] for i in b.client.get("/api/studies", params={"scope": "mine"}).json()["items"]]
    assert uid in [i["study_uid"] for i in a.client.get("/api/studies", params={"scope": "mine"}).json()["items"]]
    assert a.client.get(f"/api/shares/studies/{uid}").json()["items"][0]["id"] == share["id"]
    assert a.client.patch(f"/api/shares/studies/{uid}/{share['id']}", json={"level": "contribute"}).json()[
        "level"] == "contribute"
    assert b.client.get(f"/api/access/studies/{uid}").json() == {"access": "contribute", "actions": ["read", "store"]}
    assert a.client.delete(f"/api/shares/studies/{uid}/{share['id']}").status_code == 204
    assert_problem(b.client.get(f"/dicom-web/studies/{uid}/metadata"), 404, "not_found")
    assert _audit_actions(f"study:{uid}")[-4:] == ["study_shared", "study_share_changed", "study_share_revoked",
                                                   "access_refused"]  # B's read after the revoke


@pytest.mark.parametrize("case", ["unknown", "self", "researcher", "pending", "both", "neither", "level",
                                  "foreign_group", "mixed_group"])
def test_bad_study_shares_get_clear_errors_and_change_nothing(factory, doctors, case):
    a, b = doctors[:2]
    uid = _study(a)
    researcher = factory.create("researcher")
    body, status, code = {
        "unknown": ({"email": "ghost@example.org", "level": "read"}, 422, "unknown_user"),
        "self": ({"email": a.email, "level": "read"}, 422, "share_with_self"),
        "researcher": ({"email": researcher.email, "level": "read"}, 422, "wrong_role"),
        "pending": ({"email": factory.create("health_professional", status="pending").email, "level": "read"}, 422,
                    "unknown_user"),
        "both": ({"email": b.email, "group_id": str(uuid.uuid4()), "level": "read"}, 422, "validation"),
        "neither": ({"level": "read"}, 422, "validation"),
        "level": ({"email": b.email, "level": "edit"}, 422, "validation"),
        "foreign_group": ({"group_id": _group(b)["id"], "level": "read"}, 404, "unknown_group"),
        "mixed_group": ({"group_id": _group(a, b, researcher)["id"], "level": "read"}, 422, "wrong_role"),
    }[case]
    assert_problem(a.client.post(f"/api/shares/studies/{uid}", json=body), status, code)
    assert a.client.get(f"/api/shares/studies/{uid}").json()["items"] == []


def test_duplicate_shares_conflict_and_only_the_owner_manages_shares(doctors):
    a, b, c = doctors[:3]
    uid = _study(a)
    assert a.client.post(f"/api/shares/studies/{uid}", json={"email": b.email, "level": "contribute"}).status_code == 201
    assert_problem(a.client.post(f"/api/shares/studies/{uid}", json={"email": b.email, "level": "read"}), 409,
                   "already_shared")
    gid = _group(a, c)["id"]
    assert a.client.post(f"/api/shares/studies/{uid}", json={"group_id": gid, "level": "read"}).status_code == 201
    assert_problem(a.client.post(f"/api/shares/studies/{uid}", json={"group_id": gid, "level": "read"}), 409,
                   "already_shared")
    # a contributor cannot see or change who has access; unknown studies answer alike
    for client in (b.client, c.client):
        assert_problem(client.get(f"/api/shares/studies/{uid}"), 404, "not_found")
        assert_problem(client.post(f"/api/shares/studies/{uid}", json={"email": doctors[3].email, "level": "read"}),
                       404, "not_found")
    with db.session_scope() as session:
        levels = session.scalars(select(StudyShare.level).join(Study, Study.id == StudyShare.study_id)
                                 .where(Study.study_uid == uid)).all()
    assert sorted(levels) == ["contribute", "read"]


def test_a_group_share_follows_membership_and_mails_every_member(doctors, mailbox):
    a, b, c = doctors[:3]
    uid = _study(a)
    group = _group(a, b, c)
    assert a.client.post(f"/api/shares/studies/{uid}", json={"group_id": group["id"], "level": "read"}).status_code == 201
    for member in (b, c):
        mailbox.wait_for(member.email, "shared")
        assert b.client.get(f"/dicom-web/studies/{uid}/metadata").status_code == 200
    assert a.client.delete(f"/api/groups/{group['id']}/members/{c.id}").status_code == 204
    assert_problem(c.client.get(f"/dicom-web/studies/{uid}/metadata"), 404, "not_found")  # former member
    assert b.client.get(f"/api/access/studies/{uid}").json()["access"] == "read"
    assert a.client.delete(f"/api/groups/{group['id']}").status_code == 204  # its shares go with it
    assert_problem(b.client.get(f"/dicom-web/studies/{uid}/metadata"), 404, "not_found")
    assert a.client.get(f"/api/shares/studies/{uid}").json()["items"] == []


def test_a_contributor_stores_an_annotation_attributed_to_them_and_a_reader_cannot(doctors):
    a, b, c = doctors[:3]
    patient = Patient(name="ANNOTATED^CASE", patient_id=f"AN-{uuid.uuid4().hex[:8]}")
    uid = _study(a, patient.name, patient.patient_id)
    a.client.post(f"/api/shares/studies/{uid}", json={"email": b.email, "level": "contribute"})
    a.client.post(f"/api/shares/studies/{uid}", json={"email": c.email, "level": "read"})
    extra = ct_series(patient, slices=1, rows=16, columns=16, study_uid=uid)  # the study's patient
    r = stow(c.client, extra)
    assert r.status_code == 409 and r.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0x0124]
    r = stow(b.client, extra, study_uid=uid)
    assert r.status_code == 200, r.text
    with db.session_scope() as session:
        author = session.scalar(select(Instance.author_id).where(Instance.sop_uid == str(extra[0].SOPInstanceUID)))
    assert str(author) == b.id
    found = a.client.get("/dicom-web/studies", params={"StudyInstanceUID": uid}).json()
    assert found[0]["00201208"]["Value"] == [3]


# ------------------------------------------------------------------------------------- every route

_ROUTES = [(m, r) for r in sharing_api.routes for m in r.methods if not r.access.public]


@pytest.mark.parametrize("method, route", _ROUTES, ids=[f"{m} {r.rule}" for m, r in _ROUTES])
def test_every_sharing_route_refuses_anonymous_admins_and_pending_accounts(factory, admin, method, route):
    path = sharing_api.prefix + re.sub(r"<[^>]+>", lambda _: str(uuid.uuid4()), route.rule)
    assert_problem(factory.client().request(method, path, json={}), 401, "not_authenticated")
    pending = factory.create("health_professional", status="pending")
    for client, code in ((admin.client, "no_patient_data_access"), (pending.client, "account_pending")):
        body = example(route.body) if route.body else None
        assert_problem(client.request(method, path, json=body), 403, code)


def test_probing_for_accounts_by_email_is_throttled(factory, doctors):
    """Twenty addresses without an active account per user and hour, then 429 for any address."""
    prober = factory.create("health_professional")
    uid = _study(prober)
    gid = _group(prober)["id"]
    for i in range(20):
        path, body = ((f"/api/shares/studies/{uid}", {"email": f"ghost{i}@example.org", "level": "read"}) if i % 2
                      else (f"/api/groups/{gid}/members", {"email": f"ghost{i}@example.org"}))
        assert_problem(prober.client.post(path, json=body), 422, "unknown_user")
    r = prober.client.post(f"/api/shares/studies/{uid}", json={"email": doctors[1].email, "level": "read"})
    assert_problem(r, 429, "too_many_attempts")
    assert 3000 < int(r.headers["Retry-After"]) <= 3601
    assert prober.client.get(f"/api/shares/studies/{uid}").json()["items"] == []
    # others are not affected
    other_uid = _study(doctors[2])
    assert doctors[2].client.post(f"/api/shares/studies/{other_uid}",
                                  json={"email": doctors[1].email, "level": "read"}).status_code == 201
