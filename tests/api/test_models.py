"""The model registry through the real `models` function: adding models, resumable uploads, publishing with
every problem reported at file and line, the smoke run in the sandbox, immutable versions, activation and
rollback with the service following, deletion, and what bad input gets."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from mcc_local.demo_models import bundle_zip
from sqlalchemy import func, select

from functions.common.ai_models import services
from functions.common.ai_models.tables import ModelUpload, ModelVersion
from functions.common.ai_models.versions import declared_inputs, version_manifest
from functions.common.platform import db
from functions.common.platform.config import get_settings
from functions.common.platform.storage import store
from tests.support.models import ROOT, TEMPLATES, create_model, publish, template_files, upload, wait_version
from tests.support.problem import assert_problem

pytestmark = pytest.mark.usefixtures("model_host")

BROKEN_RUN = '''
import numpy as np
from model_builder import Application


class Broken(Application):
    def run(self, volume):
        values = np.zeros(3)
        return values[7]
'''

WEIGHED = '''
import numpy as np
from model_builder import Application, InferTask, InferType, Label, LabelVolume


class Weighed(InferTask):
    type = InferType.PROCESSING
    labels = (Label("Body"),)
    modality = "CT"
    inputs = ("PatientWeight", "StudyDate")

    def infer(self, data):
        return data > -300

    def post(self, result, volume):
        weight, date = volume.attributes["PatientWeight"], volume.attributes["StudyDate"]
        if not (isinstance(weight, float) and weight > 0 and len(date) == 8):
            raise ValueError("implausible attributes")
        return LabelVolume(result.astype(np.uint8))


class WeighedApplication(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        self.task = Weighed()

    def run(self, volume):
        return self.task(volume)
'''
READS_UNDECLARED = '''        if volume.attributes["PatientSex"] == "X":'''


def _versions(model_id: str) -> int:
    with db.session_scope() as session:
        return session.scalar(select(func.count()).select_from(ModelVersion)
                              .where(ModelVersion.model_id == uuid.UUID(model_id)))


@pytest.fixture(scope="module")
def ready_model(researcher):
    """A model with a ready version 1 (the classical template)."""
    model = create_model(researcher.client)
    r = publish(researcher.client, model["id"], template_files(), notes="First version.")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "validating" and r.json()["version"] == 1
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "ready", version
    return researcher.client.get(f"/api/models/{model['id']}").json()


# ------------------------------------------------------------------------------------------ adding

def test_a_researcher_adds_a_model_and_only_researchers_may(researcher, doctor, admin, client):
    model = create_model(researcher.client, name="  Liver U-Net ", task="segmentation")
    assert model["name"] == "Liver U-Net" and model["access"] == "owner" and model["active_version"] is None
    assert set(model["actions"]) == {"use", "edit", "share", "publish"}
    assert model["id"] in [m["id"] for m in researcher.client.get("/api/models?scope=mine").json()["items"]]
    body = {"name": "x", "architecture": "y", "task": "segmentation", "modality": "CT"}
    assert_problem(doctor.client.post("/api/models", json=body), 403, "researchers_only")
    assert_problem(admin.client.post("/api/models", json=body), 403, "no_patient_data_access")
    assert_problem(client.post("/api/models", json=body), 401, "not_authenticated")


def test_the_form_reports_every_bad_field_at_once(researcher):
    r = researcher.client.post("/api/models", json={"name": " ", "architecture": "", "task": "guessing",
                                                    "modality": "c t"})
    problem = assert_problem(r, 422, "validation")
    assert {e["field"] for e in problem["errors"]} == {"name", "architecture", "task", "modality"}


def test_templates_are_the_three_starting_points(researcher, doctor):
    items = researcher.client.get("/api/models/templates").json()["items"]
    assert {t["id"]: t["task"] for t in items} == {
        "segmentation_monai": "segmentation", "classification": "classification",
        "processing_classical": "processing"}
    assert all("manifest.json" in t["files"] and "app.py" in t["files"] for t in items)
    assert_problem(doctor.client.get("/api/models/templates"), 403, "researchers_only")


# ------------------------------------------------------------------------------------------ uploads

def test_an_upload_resumes_where_it_stopped_and_checks_its_sha256(researcher):
    model = create_model(researcher.client)
    data = bytes(range(256)) * 40_000  # ~10 MB: two chunks and a bit
    base = f"/api/models/{model['id']}/uploads"
    item = researcher.client.post(base, json={"name": "model.pt", "size": len(data),
                                              "sha256": hashlib.sha256(data).hexdigest()}).json()
    step, url = item["chunk_size"], f"{base}/{item['id']}"

    def send(start, part):
        return researcher.client.put(url, data=part, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"})

    assert send(0, data[:step]).json()["received"] == step
    # the client lost the answer and sends the first chunk again: told where to go on from
    assert_problem(send(0, data[:step]), 409, "upload_offset")
    assert researcher.client.get(url).json()["received"] == step
    assert_problem(researcher.client.put(url, data=b"xx", headers={"Content-Range": "bytes 0-1"}), 422, "bad_range")
    for start in range(step, len(data), step):
        last = send(start, data[start:start + step])
    assert last.status_code == 200 and last.json()["complete"]
    assert last.json()["sha256"] == hashlib.sha256(data).hexdigest()

    wrong = researcher.client.post(base, json={"name": "w.bin", "size": 4, "sha256": "0" * 64}).json()
    r = researcher.client.put(f"{base}/{wrong['id']}", data=b"abcd",
                              headers={"Content-Range": "bytes 0-3/4", "Content-Type": "application/octet-stream"})
    assert_problem(r, 422, "checksum_mismatch")
    assert_problem(researcher.client.get(f"{base}/{wrong['id']}"), 404, "not_found")  # discarded
    with db.session_scope() as session:
        assert session.get(ModelUpload, uuid.UUID(wrong["id"])) is None


def test_uploads_refuse_bad_names_sizes_and_other_peoples_uploads(researcher, factory):
    model = create_model(researcher.client)
    base = f"/api/models/{model['id']}/uploads"
    assert_problem(researcher.client.post(base, json={"name": "../x", "size": 0}), 422, "validation")
    too_big = get_settings().model_max_upload_bytes + 1
    assert_problem(researcher.client.post(base, json={"name": "big.pt", "size": too_big}), 413, "too_large")
    item = researcher.client.post(base, json={"name": "w.bin", "size": 10}).json()
    other = factory.create("researcher")
    assert_problem(other.client.get(f"{base}/{item['id']}"), 404, "not_found")
    assert researcher.client.delete(f"{base}/{item['id']}").status_code == 204
    assert_problem(researcher.client.get(f"{base}/{item['id']}"), 404, "not_found")


# ------------------------------------------------------------------------------------------ publishing

def test_a_published_version_is_stored_by_its_sha256_and_becomes_active(ready_model, researcher):
    model = ready_model
    assert model["active_version"] == 1 and model["name"] == "CT body mask" and model["task"] == "processing"
    assert model["labels"][0]["name"] == "Body"
    version = model["versions"][0]
    assert version["status"] == "ready" and version["active"] and version["notes"] == "First version."
    assert version["author"]["id"] == researcher.id
    with db.session_scope() as session:
        row = session.scalar(select(ModelVersion).where(ModelVersion.model_id == uuid.UUID(model["id"])))
        stored = store().get(row.bundle_key)
    assert hashlib.sha256(stored).hexdigest() == version["digest"] and row.bundle_key.endswith(version["digest"] +
                                                                                               ".zip")
    assert (get_settings().bundles_path / version["digest"] / "app.py").is_file()
    detail = researcher.client.get(f"/api/models/{model['id']}/versions/1").json()
    assert {f["path"] for f in detail["files"]} == {"app.py", "manifest.json"}
    assert detail["manifest"]["entry_point"] == "app:BodyMaskApplication"


def test_the_same_content_is_one_version_and_versions_never_change(ready_model, researcher):
    r = publish(researcher.client, ready_model["id"], template_files(), notes="First version.")
    assert_problem(r, 409, "duplicate_version")
    first = researcher.client.get(f"/api/models/{ready_model['id']}/versions/1").json()
    assert first["digest"] == ready_model["versions"][0]["digest"]


def test_a_bundle_with_errors_reports_each_at_its_file_and_line_and_stores_nothing(researcher):
    model = create_model(researcher.client)
    files = template_files(task="nonsense", entry_point="app:Missing")
    files["app.py"] = files["app.py"] + "\n\ndef broken(:\n    pass\n"
    broken_line = files["app.py"].count("\n") - 1
    weights = upload(researcher.client, model["id"], b"\0" * 1000)
    objects_before = store().keys("bundles")
    problem = assert_problem(publish(researcher.client, model["id"], files, {"w.bin": weights["id"]}), 422,
                             "invalid_bundle")
    found = {(p["stage"], p["file"], p["line"]) for p in problem["problems"]}
    assert ("static", "app.py", broken_line) in found, problem["problems"]
    assert any(p["file"] == "manifest.json" and "task" in p["message"] for p in problem["problems"])
    assert _versions(model["id"]) == 0 and store().keys("bundles") == objects_before
    # the upload was not consumed: the researcher fixes the code and publishes with it
    r = publish(researcher.client, model["id"], template_files(), {"w.bin": weights["id"]})
    assert r.status_code == 202, r.text


def _weighed(body: str = WEIGHED) -> dict[str, str]:
    files = template_files(entry_point="app:WeighedApplication", labels=[{"name": "Body"}])
    files["app.py"] = body
    return files


def test_the_attributes_a_task_declares_are_stored_with_its_version_and_given_to_its_smoke_run(researcher):
    model = create_model(researcher.client)
    assert publish(researcher.client, model["id"], _weighed()).status_code == 202
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "ready", version["problems"]
    assert version["manifest"]["inputs"] == ["PatientWeight", "StudyDate"]
    with db.session_scope() as session:
        row = session.scalar(select(ModelVersion).where(ModelVersion.model_id == uuid.UUID(model["id"])))
        assert declared_inputs(row) == ("PatientWeight", "StudyDate")  # what the executor reads and sends
        assert version_manifest(row).entry_point == "app:WeighedApplication"


def test_a_model_reading_an_attribute_it_did_not_declare_fails_its_smoke_run_at_that_line(researcher):
    """The smoke run sends what inference will: the declared attributes and nothing else."""
    body = WEIGHED.replace("        return LabelVolume(", READS_UNDECLARED + "\n            pass\n"
                           "        return LabelVolume(")
    model = create_model(researcher.client)
    assert publish(researcher.client, model["id"], _weighed(body)).status_code == 202
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "failed"
    line = body.splitlines().index(READS_UNDECLARED) + 1
    assert any(p["file"] == "app.py" and p["line"] == line and "PatientSex" in p["message"]
               for p in version["problems"]), version["problems"]


def test_a_misspelt_or_bulk_input_is_refused_at_its_line_before_anything_is_stored(researcher):
    model = create_model(researcher.client)
    body = WEIGHED.replace('inputs = ("PatientWeight", "StudyDate")', 'inputs = ("PatientWieght", "PixelData")')
    problem = assert_problem(publish(researcher.client, model["id"], _weighed(body)), 422, "invalid_bundle")
    line = body.splitlines().index('    inputs = ("PatientWieght", "PixelData")') + 1
    assert [(p["stage"], p["file"], p["line"]) for p in problem["problems"]] == [("static", "app.py", line)] * 2
    assert "did you mean 'PatientWeight'?" in problem["problems"][0]["message"]
    assert "bulk data" in problem["problems"][1]["message"]
    assert _versions(model["id"]) == 0


def test_archive_problems_are_refused_before_anything_is_stored(researcher, tmp_path):
    import io
    import zipfile

    model = create_model(researcher.client)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../evil.py", "print('x')")
        zf.writestr("manifest.json", "{}")
    item = upload(researcher.client, model["id"], buffer.getvalue(), name="bundle.zip")
    problem = assert_problem(researcher.client.post(f"/api/models/{model['id']}/versions",
                                                    json={"archive": item["id"]}), 422, "invalid_bundle")
    assert any(p["stage"] == "archive" and "evil" in (p["file"] or "") + p["message"] for p in problem["problems"])
    assert _versions(model["id"]) == 0


def test_a_model_that_fails_its_smoke_run_becomes_a_failed_version_with_the_line(researcher):
    model = create_model(researcher.client)
    files = template_files(entry_point="app:Broken")
    files["app.py"] = BROKEN_RUN
    r = publish(researcher.client, model["id"], files)
    assert r.status_code == 202, r.text
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "failed" and version["digest"]
    line = BROKEN_RUN.splitlines().index("        return values[7]") + 1
    assert any(p["stage"] == "smoke" and p["file"] == "app.py" and p["line"] == line and "IndexError" in p["message"]
               for p in version["problems"]), version["problems"]
    with db.session_scope() as session:
        assert session.scalar(select(ModelVersion.bundle_key).where(
            ModelVersion.model_id == uuid.UUID(model["id"]))) is None
    assert_problem(researcher.client.put(f"/api/models/{model['id']}/active", json={"version": 1}), 409,
                   "version_not_ready")
    assert_problem(researcher.client.put(f"/api/shares/models/{model['id']}/publication", json={"version": 1}), 409,
                   "version_not_ready")
    assert researcher.client.get(f"/api/models/{model['id']}").json()["active_version"] is None


# ------------------------------------------------------------------------------------------ versions

def test_activate_and_roll_back_and_the_service_follows(researcher):
    model = create_model(researcher.client)
    assert publish(researcher.client, model["id"], template_files()).status_code == 202
    assert wait_version(researcher.client, model["id"], 1)["status"] == "ready"
    v1_source = researcher.client.get(f"/api/models/{model['id']}/versions/1/source").json()
    files = dict(v1_source["files"])
    files["manifest.json"] = files["manifest.json"].replace('"CT body mask"', '"CT body mask 2"')
    assert publish(researcher.client, model["id"], files, notes="Renamed.").status_code == 202
    assert wait_version(researcher.client, model["id"], 2)["status"] == "ready"
    mid = uuid.UUID(model["id"])
    assert researcher.client.get(f"/api/models/{model['id']}").json()["active_version"] == 1  # not by itself
    r = researcher.client.put(f"/api/models/{model['id']}/active", json={"version": 2})
    assert r.status_code == 200 and r.json()["active_version"] == 2 and r.json()["name"] == "CT body mask 2"
    running = {s.name for s in services.deployer().services()}
    assert services.service_name(mid, 2) in running and services.service_name(mid, 1) not in running
    r = researcher.client.put(f"/api/models/{model['id']}/active", json={"version": 1})  # roll back
    assert r.json()["active_version"] == 1 and r.json()["name"] == "CT body mask"
    running = {s.name for s in services.deployer().services()}
    assert services.service_name(mid, 1) in running and services.service_name(mid, 2) not in running
    assert researcher.client.get(f"/api/models/{model['id']}/service").json()["version"] == 1
    assert_problem(researcher.client.put(f"/api/models/{model['id']}/active", json={"version": 9}), 422,
                   "unknown_version")


def test_deleting_a_model_stops_its_services_and_removes_its_bundles(researcher, factory):
    model = create_model(researcher.client)
    assert publish(researcher.client, model["id"], template_files(description="To delete.")).status_code == 202
    version = wait_version(researcher.client, model["id"], 1)
    key = f"bundles/{model['id']}/{version['digest']}.zip"
    assert key in store().keys(f"bundles/{model['id']}")
    editor = factory.create("researcher")
    assert researcher.client.post(f"/api/shares/models/{model['id']}",
                                  json={"email": editor.email, "level": "edit"}).status_code == 201
    assert_problem(editor.client.delete(f"/api/models/{model['id']}"), 403, "not_model_owner")
    assert researcher.client.delete(f"/api/models/{model['id']}").status_code == 204
    assert store().keys(f"bundles/{model['id']}") == []
    assert not (get_settings().bundles_path / version["digest"]).exists()
    assert not [s for s in services.deployer().services() if s.name.startswith(f"m-{uuid.UUID(model['id']).hex[:20]}")]
    assert_problem(researcher.client.get(f"/api/models/{model['id']}"), 404, "not_found")


def test_a_monai_bundle_imports_as_it_is_and_its_metadata_fills_the_model(researcher, tmp_path):
    archive = bundle_zip(ROOT / "model_builder" / "samples" / "ct_heart_unet", tmp_path / "heart.zip")
    model = create_model(researcher.client, name="Imported", task="segmentation")
    item = upload(researcher.client, model["id"], archive.read_bytes(), name="heart.zip")
    r = researcher.client.post(f"/api/models/{model['id']}/versions", json={"archive": item["id"], "notes": "Zoo."})
    assert r.status_code == 202, r.text
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "ready", [p["message"] for p in version["problems"]]
    assert version["manifest"]["entry_point"] == "model_builder.monai_bundle:BundleApplication"
    detail = researcher.client.get(f"/api/models/{model['id']}").json()
    assert detail["architecture"] == "UNet" and detail["labels"][0]["name"] == "Heart"
    assert detail["labels"][0]["code"]["value"] == "80891009"


@pytest.mark.parametrize("template", ["segmentation_monai", "classification"])
def test_the_monai_templates_run_in_the_sandbox_with_uploaded_weights(researcher, template, tmp_path):
    """The editor's MONAI templates as a researcher starts: the template's code, its network's weights (untrained
    here) uploaded in chunks, published, smoke-run in the sandbox."""
    import importlib.util
    import io

    import torch

    spec = importlib.util.spec_from_file_location(f"template_{template}", TEMPLATES / template / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(module.network().state_dict(), buffer)
    files = template_files(template)
    model = create_model(researcher.client, task=json.loads(files["manifest.json"])["task"])
    weights = upload(researcher.client, model["id"], buffer.getvalue(), name="model.pt")
    assert publish(researcher.client, model["id"], files, {"models/model.pt": weights["id"]}).status_code == 202
    version = wait_version(researcher.client, model["id"], 1)
    assert version["status"] == "ready", [p["message"] for p in version["problems"]]
    assert {"app.py", "manifest.json", "models/model.pt"} <= {f["path"] for f in version["files"]}
    assert version["manifest"].get("inputs", []) == {"classification": ["PatientAge"]}.get(template, [])


def test_weights_are_reused_from_an_earlier_version_without_uploading_them_again(researcher):
    model = create_model(researcher.client)
    data = b"weights" * 1000
    weights = upload(researcher.client, model["id"], data, name="w.bin")
    assert publish(researcher.client, model["id"], template_files(), {"models/w.bin": weights["id"]}).status_code == 202
    assert wait_version(researcher.client, model["id"], 1)["status"] == "ready"
    source = researcher.client.get(f"/api/models/{model['id']}/versions/1/source").json()
    assert source["weights"] == [{"path": "models/w.bin", "size": len(data)}] and "app.py" in source["files"]
    files = {**source["files"], "README.md": "Second version."}
    r = publish(researcher.client, model["id"], files, {"models/w.bin": {"from_version": 1}})
    assert r.status_code == 202, r.text
    second = wait_version(researcher.client, model["id"], 2)
    assert second["status"] == "ready" and {"path": "models/w.bin", "size": len(data)} in second["files"]
    assert_problem(publish(researcher.client, model["id"], files, {"models/w.bin": {"from_version": 7}}), 422,
                   "unknown_version")


def test_publishing_with_unknown_unfinished_or_foreign_uploads_is_refused_and_changes_nothing(researcher, factory):
    model = create_model(researcher.client)
    base = f"/api/models/{model['id']}/uploads"
    unfinished = researcher.client.post(base, json={"name": "w.bin", "size": 100}).json()
    assert_problem(publish(researcher.client, model["id"], template_files(), {"w.bin": unfinished["id"]}), 409,
                   "upload_incomplete")
    assert_problem(publish(researcher.client, model["id"], template_files(), {"w.bin": str(uuid.uuid4())}), 422,
                   "unknown_upload")
    other = factory.create("researcher")
    theirs = create_model(other.client)
    foreign = upload(other.client, theirs["id"], b"x" * 10)
    assert_problem(publish(researcher.client, model["id"], template_files(), {"w.bin": foreign["id"]}), 422,
                   "unknown_upload")
    assert_problem(researcher.client.post(f"/api/models/{model['id']}/versions", json={"files": {}}), 422,
                   "validation")
    assert_problem(researcher.client.post(f"/api/models/{model['id']}/versions", json={"files": ["app.py"]}), 422,
                   "validation")
    assert _versions(model["id"]) == 0
    assert other.client.get(f"/api/models/{theirs['id']}/uploads/{foreign['id']}").json()["complete"]


def test_a_validation_lost_with_a_restart_becomes_a_failed_version(researcher):
    import datetime as dt

    model = create_model(researcher.client)
    with db.session_scope() as session:
        session.add(ModelVersion(id=uuid.uuid4(), model_id=uuid.UUID(model["id"]), version=1, status="validating",
                                 stage="smoke", digest="0" * 64, created_by=uuid.UUID(researcher.id),
                                 created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
    version = researcher.client.get(f"/api/models/{model['id']}").json()["versions"][0]
    assert version["status"] == "failed" and "interrupted" in version["problems"][0]["message"]
