"""The permission matrix: every action on a study and on a model, over real HTTP, against every
relationship a caller can have to it; the allowed set must be exactly the expected one, and what is
forbidden must answer exactly like an unknown resource."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from mcc_local.dicomgen import Patient, ct_series
from mcc_local.srgen import length_measurement_sr

from functions.common.ai_models.tables import AiModel, ModelVersion
from functions.common.platform import db
from tests.support.api_client import STRONG_PASSWORD, ApiClient
from tests.support.dicomweb import DICOM_PARTS, FRAME_PARTS, instance_path, stow

UNKNOWN_STUDY = "1.2.826.0.1.3680043.8.498.99999999999999999999999999999999999"

STUDY_ACTIONS = ("search", "list", "metadata", "frames", "retrieve", "store_sr", "see_shares", "share", "revoke",
                 "delete")
READ = {"search", "list", "metadata", "frames", "retrieve"}
STUDY_EXPECTED: dict[str, set[str]] = {
    "owner": set(STUDY_ACTIONS),
    "direct read": READ,
    "direct contribute": READ | {"store_sr"},
    "group member (read)": READ,
    "group member (contribute)": READ | {"store_sr"},
    "former group member": set(),
    "revoked user": set(),
    "other role in the group": set(),
    "pending health professional": set(),
    "admin": set(),
    "anonymous": set(),
}
MODEL_ACTIONS = ("use", "edit", "see_shares", "share", "revoke", "publish")
MODEL_EXPECTED: dict[str, set[str]] = {
    "owner": set(MODEL_ACTIONS),
    "direct use": {"use"},
    "direct edit": {"use", "edit"},
    "group member (use)": {"use"},
    "former group member": set(),
    "revoked user": set(),
    "health professional": set(),
    "pending health professional": set(),
    "admin": set(),
    "anonymous": set(),
}


@dataclass
class Outcome:
    allowed: bool
    status: int
    code: str | None


def _outcome(r, allowed: bool) -> Outcome:
    code = r.json().get("code") if r.headers.get("Content-Type", "").startswith("application/problem+json") else None
    return Outcome(allowed, r.status_code, code)


SHARE_ACTIONS = ("see_shares", "share", "revoke")


@dataclass
class Shares:
    """The share routes of one owned resource, alike for every kind (`studies`, `models`)."""

    kind: str
    resource_id: str
    owner: ApiClient
    level: str  # what a fresh grantee is given
    fresh_grantee: Callable[[], str]

    def grant(self, **body) -> dict:
        """The owner shares the resource (`email` or `group_id`, and `level`)."""
        r = self.owner.post(f"/api/shares/{self.kind}/{self.resource_id}", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def act(self, client: ApiClient, action: str, resource_id: str) -> Outcome:
        """A caller's attempt at one of SHARE_ACTIONS on `resource_id` (the owned one, or an unknown one)."""
        path = f"/api/shares/{self.kind}/{resource_id}"
        if action == "see_shares":
            r = client.get(path)
            return _outcome(r, r.status_code == 200)
        if action == "share":
            r = client.post(path, json={"email": self.fresh_grantee(), "level": self.level})
            return _outcome(r, r.status_code == 201)
        if action == "revoke":
            target = self.grant(email=self.fresh_grantee(), level=self.level)["id"]
            r = client.delete(f"{path}/{target}")
            return _outcome(r, r.status_code == 204)
        raise AssertionError(action)


@dataclass
class World:
    """One owned resource: who may try what on it (a client per relationship), and its share routes."""

    callers: dict[str, ApiClient]
    shares: Shares

    @property
    def owner(self) -> ApiClient:
        return self.shares.owner


@dataclass
class StudyWorld(World):
    uid: str
    image: object
    frame_path: str
    instance_path: str


@pytest.fixture(scope="module")
def study_world(factory) -> StudyWorld:
    owner = factory.create("health_professional")
    series = ct_series(Patient(name="MATRIX^STUDY", patient_id=f"M-{uuid.uuid4().hex[:8]}"), slices=2, rows=16,
                       columns=16)
    assert stow(owner.client, series).status_code == 200
    uid = str(series[0].StudyInstanceUID)
    accounts = {name: factory.create("health_professional") for name in (
        "direct read", "direct contribute", "group member (read)", "group member (contribute)",
        "former group member", "revoked user")}
    accounts["other role in the group"] = factory.create("researcher")
    accounts["pending health professional"] = factory.create("health_professional", status="pending")
    accounts["admin"] = factory.admin()
    c = owner.client
    shares = Shares("studies", uid, c, "read", lambda: factory.create("health_professional").email)

    def group(*members, level: str) -> str:
        gid = c.post("/api/groups", json={"name": f"matrix {level}"}).json()["id"]
        for m in members:
            assert c.post(f"/api/groups/{gid}/members", json={"email": m.email}).status_code == 201
        shares.grant(group_id=gid, level=level)
        return gid

    shares.grant(email=accounts["direct read"].email, level="read")
    shares.grant(email=accounts["direct contribute"].email, level="contribute")
    read_group = group(accounts["group member (read)"], accounts["former group member"], level="read")
    group(accounts["group member (contribute)"], level="contribute")
    revoked = shares.grant(email=accounts["revoked user"].email, level="read")
    assert c.delete(f"/api/shares/studies/{uid}/{revoked['id']}").status_code == 204
    former = accounts["former group member"]
    assert c.delete(f"/api/groups/{read_group}/members/{former.id}").status_code == 204
    # a researcher joins the group after the share: the study stays invisible to them
    assert c.post(f"/api/groups/{read_group}/members",
                  json={"email": accounts["other role in the group"].email}).status_code == 201
    callers = {name: a.client for name, a in accounts.items()}
    callers["anonymous"] = factory.client()
    callers["owner"] = c
    image = series[0]
    return StudyWorld(callers, shares, uid, image, instance_path(image) + "/frames/1", instance_path(image))


def _study_action(world: StudyWorld, client: ApiClient, action: str, uid: str) -> Outcome:
    frame = world.frame_path.replace(world.uid, uid)
    instance = world.instance_path.replace(world.uid, uid)
    if action == "search":
        r = client.get("/dicom-web/studies", params={"StudyInstanceUID": uid})
        found = r.status_code == 200 and any(i["0020000D"]["Value"][0] == uid for i in r.json())
        return Outcome(found, r.status_code, None if r.status_code == 200 else r.json().get("code"))
    if action == "list":
        r = client.get("/api/studies", params={"scope": "all", "limit": 100})
        found = r.status_code == 200 and uid in [i["study_uid"] for i in r.json()["items"]]
        return Outcome(found, r.status_code, None if r.status_code == 200 else r.json().get("code"))
    if action == "metadata":
        r = client.get(f"/dicom-web/studies/{uid}/metadata")
        return _outcome(r, r.status_code == 200)
    if action == "frames":
        r = client.get(frame, headers={"Accept": FRAME_PARTS})
        return _outcome(r, r.status_code == 200)
    if action == "retrieve":
        r = client.get(instance, headers={"Accept": DICOM_PARTS})
        return _outcome(r, r.status_code == 200)
    if action == "store_sr":
        r = stow(client, [length_measurement_sr(world.image, length_mm=12.5)])
        return _outcome(r, r.status_code == 200)
    if action in SHARE_ACTIONS:
        return world.shares.act(client, action, uid)
    if action == "delete":
        r = client.request("DELETE", f"/api/studies/{uid}", json={"password": STRONG_PASSWORD})
        return _outcome(r, r.status_code == 204)
    raise AssertionError(action)


ORDER = [name for name in STUDY_EXPECTED if name != "owner"] + ["owner"]  # the owner deletes the study last


def observe(callers: dict[str, ApiClient], actions: tuple[str, ...], act: Callable[[ApiClient, str, str], Outcome],
            known: str, unknown: str, *, alike: Callable[[str, Outcome], bool]) -> tuple[dict[str, set[str]], list]:
    """Each caller's allowed actions on `known`, and every denial that answers unlike the same on `unknown`
    (`alike` says which denials must look like an unknown resource)."""
    observed, mismatched = {}, []
    for who, client in callers.items():
        observed[who] = set()
        for action in actions:
            got = act(client, action, known)
            if got.allowed:
                observed[who].add(action)
            elif alike(action, got) and (other := act(client, action, unknown)) and \
                    (other.status, other.code) != (got.status, got.code):
                mismatched.append(f"{who} {action}: {got} vs unknown {other}")
    return observed, mismatched


def test_study_permission_matrix(study_world: StudyWorld):
    callers = {who: study_world.callers[who] for who in ORDER}
    observed, mismatched = observe(
        callers, STUDY_ACTIONS, lambda client, action, uid: _study_action(study_world, client, action, uid),
        study_world.uid, UNKNOWN_STUDY,
        alike=lambda action, _got: action != "store_sr")  # STOW into an unknown StudyInstanceUID creates it
    assert observed == STUDY_EXPECTED
    assert mismatched == []


def test_denials_say_why_for_accounts_without_patient_data(study_world: StudyWorld):
    for who, code in (("pending health professional", "account_pending"), ("admin", "no_patient_data_access")):
        r = study_world.callers[who].get("/dicom-web/studies")
        assert r.status_code == 403 and r.json()["code"] == code
    assert study_world.callers["anonymous"].get("/dicom-web/studies").status_code == 401


# ------------------------------------------------------------------------------------------- models

@dataclass
class ModelWorld(World):
    model_id: str


@pytest.fixture(scope="module")
def model_world(factory) -> ModelWorld:
    owner = factory.create("researcher")
    with db.session_scope() as session:  # models arrive with their own issue; the rows sharing needs exist now
        model = AiModel(id=uuid.uuid4(), owner_id=uuid.UUID(owner.id), name="Matrix segmenter")
        session.add(model)
        session.flush()
        session.add_all([ModelVersion(id=uuid.uuid4(), model_id=model.id, version=v, created_by=model.owner_id)
                         for v in (1, 2)])
        model_id = str(model.id)
    accounts = {name: factory.create("researcher") for name in (
        "direct use", "direct edit", "group member (use)", "former group member", "revoked user")}
    accounts["health professional"] = factory.create("health_professional")
    accounts["pending health professional"] = factory.create("health_professional", status="pending")
    accounts["admin"] = factory.admin()
    c = owner.client
    shares = Shares("models", model_id, c, "use", lambda: factory.create("researcher").email)

    shares.grant(email=accounts["direct use"].email, level="use")
    shares.grant(email=accounts["direct edit"].email, level="edit")
    gid = c.post("/api/groups", json={"name": "model group"}).json()["id"]
    for m in ("group member (use)", "former group member"):
        assert c.post(f"/api/groups/{gid}/members", json={"email": accounts[m].email}).status_code == 201
    shares.grant(group_id=gid, level="use")
    revoked = shares.grant(email=accounts["revoked user"].email, level="use")
    assert c.delete(f"/api/shares/models/{model_id}/{revoked['id']}").status_code == 204
    assert c.delete(f"/api/groups/{gid}/members/{accounts['former group member'].id}").status_code == 204
    callers = {name: a.client for name, a in accounts.items()}
    callers["anonymous"] = factory.client()
    callers["owner"] = c
    return ModelWorld(callers, shares, model_id)


def _model_action(world: ModelWorld, client: ApiClient, action: str, model_id: str) -> Outcome:
    if action in ("use", "edit"):
        r = client.get(f"/api/access/models/{model_id}")
        return _outcome(r, r.status_code == 200 and action in r.json()["actions"])
    if action in SHARE_ACTIONS:
        return world.shares.act(client, action, model_id)
    if action == "publish":
        r = client.put(f"/api/shares/models/{model_id}/publication", json={"version": 1})
        if r.status_code == 200:
            assert world.owner.delete(f"/api/shares/models/{world.model_id}/publication").status_code == 204
        return _outcome(r, r.status_code == 200)
    raise AssertionError(action)


def test_model_permission_matrix(model_world: ModelWorld):
    observed, mismatched = observe(
        model_world.callers, MODEL_ACTIONS,
        lambda client, action, mid: _model_action(model_world, client, action, mid),
        model_world.model_id, str(uuid.uuid4()),
        alike=lambda action, got: not (action == "edit" and got.status == 200))  # may use it, not edit it
    assert observed == MODEL_EXPECTED
    assert mismatched == []


def test_a_published_version_lets_every_approved_health_professional_use_the_model(model_world: ModelWorld,
                                                                                  factory):
    owner, mid = model_world.owner, model_world.model_id
    doctor = model_world.callers["health professional"]
    assert doctor.get(f"/api/access/models/{mid}").status_code == 404
    assert owner.put(f"/api/shares/models/{mid}/publication", json={"version": 2}).json() == {"published_version": 2}
    try:
        assert doctor.get(f"/api/access/models/{mid}").json() == {"access": "published", "actions": ["use"]}
        listed = doctor.get("/api/shares/models", params={"scope": "shared"}).json()["items"]
        assert [(m["id"], m["published_version"]) for m in listed if m["id"] == mid] == [(mid, 2)]
        assert model_world.callers["pending health professional"].get(f"/api/access/models/{mid}").status_code == 403
        stranger = factory.create("researcher").client  # publication is for health professionals
        assert stranger.get(f"/api/access/models/{mid}").status_code == 404
        r = owner.put(f"/api/shares/models/{mid}/publication", json={"version": 7})
        assert r.status_code == 422 and r.json()["code"] == "unknown_version"
        assert owner.get(f"/api/shares/models/{mid}").json()["published_version"] == 2
    finally:
        assert owner.delete(f"/api/shares/models/{mid}/publication").status_code == 204
    assert doctor.get(f"/api/access/models/{mid}").status_code == 404


def test_models_are_shared_with_researchers_only(model_world: ModelWorld, factory):
    r = model_world.owner.post(f"/api/shares/models/{model_world.model_id}",
                               json={"email": factory.create("health_professional").email, "level": "use"})
    assert r.status_code == 422 and r.json()["code"] == "wrong_role"
