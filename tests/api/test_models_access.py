"""Who may do what in the model registry: owner, `edit` sharee, `use` sharee, a health professional with
the version published to them (every active one), a stranger researcher, an admin and nobody — every endpoint."""

from __future__ import annotations

import pytest

from tests.support.models import create_model, publish, template_files, wait_version

pytestmark = pytest.mark.usefixtures("model_host")


@pytest.fixture(scope="module")
def cast(factory):
    owner, editor, user, stranger = (factory.create("researcher") for _ in range(4))
    reader = factory.create("health_professional")
    model = create_model(owner.client)
    assert publish(owner.client, model["id"], template_files()).status_code == 202
    assert wait_version(owner.client, model["id"], 1)["status"] == "ready"
    mid = model["id"]
    for who, level in ((editor, "edit"), (user, "use")):
        r = owner.client.post(f"/api/shares/models/{mid}", json={"email": who.email, "level": level})
        assert r.status_code == 201, r.text
    assert owner.client.put(f"/api/shares/models/{mid}/publication", json={"version": 1}).status_code == 200
    return {"owner": owner, "editor": editor, "user": user, "reader": reader, "stranger": stranger, "model": mid}


def _status(account, method, url, **kwargs):
    return getattr(account.client, method)(url, **kwargs)


ROUTES = [  # (name, method, path, body): the expected status per caller below
    ("model", "get", "", None),
    ("service", "get", "/service", None),
    ("version", "get", "/versions/1", None),
    ("source", "get", "/versions/1/source", None),
    ("activate", "put", "/active", {"version": 1}),
    ("upload", "post", "/uploads", {"name": "w.bin", "size": 4}),
    ("publish", "post", "/versions", {"files": {"x.py": ""}}),
]
EXPECTED = {
    #            model service version source activate upload publish
    "owner":    (200, 200, 200, 200, 200, 201, 422),
    "editor":   (200, 200, 200, 200, 200, 201, 422),
    "user":     (200, 200, 200, 403, 403, 403, 403),
    "reader":   (200, 200, 200, 403, 403, 403, 403),
    "stranger": (404, 404, 404, 404, 404, 404, 404),
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_caller_gets_what_the_permission_model_says(cast, who):
    got = tuple(_status(cast[who], method, f"/api/models/{cast['model']}{path}",
                        **({"json": body} if body is not None else {})).status_code
                for _, method, path, body in ROUTES)
    assert got == EXPECTED[who], dict(zip([r[0] for r in ROUTES], got, strict=True))


def test_forbidden_answers_say_why(cast):
    r = cast["user"].client.post(f"/api/models/{cast['model']}/uploads", json={"name": "w.bin", "size": 4})
    assert r.json()["code"] == "not_model_editor"
    r = cast["editor"].client.delete(f"/api/models/{cast['model']}")
    assert r.json()["code"] == "not_model_owner"


def test_lists_show_each_caller_the_models_they_may_use(cast):
    for who in ("owner", "editor", "user", "reader"):
        items = cast[who].client.get("/api/models").json()["items"]
        assert cast["model"] in [m["id"] for m in items], who
    assert cast["model"] not in [m["id"] for m in cast["stranger"].client.get("/api/models").json()["items"]]
    assert cast["model"] in [m["id"] for m in cast["reader"].client.get("/api/models?scope=published").json()["items"]]


def test_a_model_without_a_published_version_is_not_there_for_health_professionals(cast):
    private = create_model(cast["owner"].client, name="Unpublished")
    for who in ("reader", "stranger"):
        r = cast[who].client.get(f"/api/models/{private['id']}")
        assert r.status_code == 404 and r.json()["code"] == "not_found", who
        assert private["id"] not in [m["id"] for m in cast[who].client.get("/api/models").json()["items"]]


def test_health_professionals_see_only_the_published_version(cast):
    owner, reader = cast["owner"], cast["reader"]
    files = template_files(version_notes="Second.")
    assert publish(owner.client, cast["model"], files).status_code == 202
    assert wait_version(owner.client, cast["model"], 2)["status"] == "ready"
    assert [v["version"] for v in owner.client.get(f"/api/models/{cast['model']}").json()["versions"]] == [2, 1]
    model = reader.client.get(f"/api/models/{cast['model']}").json()
    assert model["access"] == "published" and [v["version"] for v in model["versions"]] == [1]
    assert reader.client.get(f"/api/models/{cast['model']}/versions/2").status_code == 404
    assert model["latest_version"] is None  # the editing state is not theirs to see


def test_admins_and_anonymous_callers_are_refused(cast, admin, client):
    url = f"/api/models/{cast['model']}"
    assert admin.client.get(url).json()["code"] == "no_patient_data_access"
    assert admin.client.get("/api/models").json()["code"] == "no_patient_data_access"
    assert client.get(url).status_code == 401 and client.get("/api/models").status_code == 401
    assert client.delete(url).status_code == 401
