"""A researcher's model from the portal's form to its publication, in headless Chromium against the real origin.

A adds a model with the classical processing template, edits app.py in the in-browser editor (CodeMirror),
uploads a weight file in resumable chunks and watches it reach 100 %, publishes, and sees version 1 go from
validating to ready. A shares the model with B's group and publishes version 1 to health professionals. A
second version with a syntax error at a known line is refused: the problem is listed at app.py and that line
and marked in the editor. Finally a MONAI Bundle zip (model-zoo layout) is imported without any code.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from mcc_local.demo_models import bundle_zip
from playwright.sync_api import Browser, Page, expect

from tests.e2e.portal import new_context, sign_in
from tests.support.api_client import STRONG_PASSWORD, AccountFactory, Mailbox

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BUNDLE = ROOT / "model_builder" / "samples" / "ct_heart_unet"
VIEWPORT = {"width": 1400, "height": 1000}
WEIGHT_BYTES = 3 * 1024 * 1024 + 12345  # a few MB, not a multiple of any chunk size
VALIDATION_TIMEOUT_MS = 240_000  # the smoke run in the sandbox, on a busy 2-core machine
EDIT = "# edited in the browser"


def _version_status(page: Page, version: int):
    table = page.get_by_role("table", name="Versions")
    row = table.get_by_role("row").filter(has=page.get_by_role("cell", name=f"Version {version}", exact=True))
    return row, row.get_by_test_id("version-status")


def _wait_ready(page: Page, client, model_id: str, version: int) -> None:
    """Wait for the page to show the end of the version's validation; if it failed, say why (the server's problems)."""
    _, status = _version_status(page, version)
    expect(status).to_have_text(re.compile(r"^(Ready|Failed)$"), timeout=VALIDATION_TIMEOUT_MS)
    body = client.get(f"/api/models/{model_id}/versions/{version}").json()
    assert body["status"] == "ready", [p["message"] for p in body["problems"]]
    expect(status).to_have_text("Ready")


def _code(page: Page, path: str):
    return page.get_by_role("textbox", name=f"Code of {path}")


def test_a_researcher_builds_publishes_shares_and_fixes_a_model_in_the_portal(browser: Browser, origin: str, smtp,
                                                                                model_host: Path,
                                                                                tmp_path: Path):
    factory = AccountFactory(origin, Mailbox(smtp), ca=os.environ["MCC_TEST_CA"])
    a, b = factory.create("researcher"), factory.create("researcher")
    doctor = factory.create("health_professional")
    tag = uuid.uuid4().hex[:8]
    group_name = f"Imaging lab {tag}"
    r = b.client.post("/api/groups", json={"name": group_name})
    assert r.status_code == 201, r.text
    r = b.client.post(f"/api/groups/{r.json()['id']}/members", json={"email": a.email})
    assert r.status_code == 201, r.text
    weights = tmp_path / "extra.bin"
    weights.write_bytes(os.urandom(WEIGHT_BYTES))

    ctx = new_context(browser, origin, viewport=VIEWPORT)
    page = ctx.new_page()
    try:
        sign_in(page, a.email, STRONG_PASSWORD)

        # The form: a model from the classical processing template.
        page.goto("/models")
        page.get_by_role("link", name="Add a model").click()
        page.get_by_label("Name").fill(f"Body mask {tag}")
        page.get_by_label("Description").fill("Masks the patient's body on CT.")
        page.get_by_label("Architecture").fill("Threshold + connected components")
        page.get_by_role("radio", name=re.compile("^Classical processing")).check()
        expect(page.get_by_label("Task")).to_have_value("processing")
        page.get_by_role("button", name="Add the model").click()
        page.wait_for_url(re.compile(r"/models/[0-9a-f-]{36}/edit\?template=processing_classical$"))
        model_id = re.search(r"/models/([0-9a-f-]{36})/", page.url).group(1)

        # The editor opened on the template, the form's values in manifest.json; type into app.py.
        app = _code(page, "app.py")
        expect(app).to_contain_text("class BodyMask(InferTask):")  # CodeMirror renders the lines in view
        page.get_by_role("navigation", name="Files").get_by_role("button", name="manifest.json").click()
        expect(_code(page, "manifest.json")).to_contain_text(f'"name": "Body mask {tag}"')
        page.get_by_role("navigation", name="Files").get_by_role("button", name="app.py").click()
        app.click()
        page.keyboard.press("Control+End")
        page.keyboard.type(EDIT)
        expect(app).to_contain_text(EDIT)

        # A weight file in resumable chunks: its progress reaches 100 %.
        page.get_by_label("Path in the bundle").fill("models/extra.bin")
        page.get_by_label("Choose a weight file").set_input_files(str(weights))
        progress = page.get_by_role("progressbar", name="Upload of models/extra.bin")
        expect(progress).to_have_attribute("aria-valuetext", re.compile(r"\(100 %\)$"), timeout=60_000)
        expect(page.get_by_text("Uploaded models/extra.bin: 3.0 MB of 3.0 MB (100 %)")).to_be_visible()

        page.get_by_label("Version notes").fill("First version, from the browser.")
        page.get_by_role("button", name="Publish", exact=True).click()
        page.wait_for_url(re.compile(rf"/models/{model_id}$"))
        row, status = _version_status(page, 1)
        expect(status).to_have_text(re.compile(r"^Validating"))
        _wait_ready(page, a.client, model_id, 1)
        expect(row).to_contain_text("Active")
        source = a.client.get(f"/api/models/{model_id}/versions/1/source").json()
        assert EDIT in source["files"]["app.py"]
        assert {w["path"]: w["size"] for w in source["weights"]} == {"models/extra.bin": WEIGHT_BYTES}

        # Share with B's group (use), then publish version 1 to health professionals.
        page.get_by_role("button", name="Share", exact=True).click()
        dialog = page.get_by_role("dialog", name="Share this model")
        group = dialog.get_by_label("Group", exact=True)
        expect(group).to_be_enabled()
        group.select_option(label=group_name)
        dialog.get_by_label("Level", exact=True).select_option("use")
        dialog.get_by_role("button", name="Add").click()
        expect(dialog.get_by_role("list", name="Who has access")).to_contain_text(group_name)
        dialog.get_by_role("button", name="Close").click()
        row.get_by_role("button", name="Publish to health professionals").click()
        expect(page.get_by_role("status").filter(has_text="Version 1 is published")).to_be_visible()
        expect(row).to_contain_text("Published")
        shared = b.client.get("/api/models?scope=shared").json()["items"]
        assert [(m["id"], m["access"]) for m in shared if m["id"] == model_id] == [(model_id, "use")]
        r = doctor.client.get("/api/models?scope=published")
        assert r.status_code == 200, r.text
        published = r.json()["items"]
        assert [m["published_version"] for m in published if m["id"] == model_id] == [1]

        # A second version with a syntax error at a known line: listed there and marked in the editor.
        page.get_by_role("link", name="New version").click()
        page.wait_for_url(re.compile(rf"/models/{model_id}/edit$"))
        expect(page.get_by_text("Starting from version 1")).to_be_visible()
        expect(page.get_by_role("list", name="Weight files")).to_contain_text("kept from version 1")
        app = _code(page, "app.py")
        broken_line = source["files"]["app.py"].count("\n") + 2
        app.click()
        page.keyboard.press("Control+End")
        expect(app).to_contain_text(EDIT)
        page.keyboard.press("Enter")
        page.keyboard.type("def broken(:")
        page.get_by_role("button", name="Publish", exact=True).click()
        refused = page.get_by_role("alert").filter(has_text="The bundle was refused")
        expect(refused).to_be_visible(timeout=60_000)
        place = refused.get_by_role("button", name=re.compile(rf"^static: app\.py:{broken_line}\b"))
        expect(place).to_be_visible()
        marked = page.locator(".code-editor .cm-lintRange-error")
        expect(marked.first).to_be_visible()
        expect(page.locator(".code-editor .cm-lint-marker-error").first).to_be_visible()
        page.get_by_role("navigation", name="Files").get_by_role("button", name="manifest.json").click()
        place.click()
        expect(app).to_be_focused()
        expect(page.locator(".code-editor .cm-activeLine")).to_contain_text("def broken(:")
        assert len(a.client.get(f"/api/models/{model_id}").json()["versions"]) == 1

        # A MONAI Bundle zip imports without code, into a model of its own.
        r = a.client.post("/api/models", json={"name": f"Zoo import {tag}", "description": "",
                                               "architecture": "UNet", "task": "segmentation", "modality": "CT"})
        assert r.status_code == 201, r.text
        zoo_id = r.json()["id"]
        page.goto(f"/models/{zoo_id}/edit")
        archive = bundle_zip(SAMPLE_BUNDLE, tmp_path / "bundle.zip")
        page.get_by_label("Choose an archive").set_input_files(str(archive))
        page.wait_for_url(re.compile(rf"/models/{zoo_id}$"), timeout=120_000)
        _wait_ready(page, a.client, zoo_id, 1)
        files = {f["path"] for f in a.client.get(f"/api/models/{zoo_id}/versions/1").json()["files"]}
        assert {"configs/metadata.json", "configs/inference.json", "models/model.pt"} <= files
    finally:
        try:
            page.screenshot(path=tmp_path / "models-journey.png", full_page=True)
        except Exception:  # noqa: BLE001 - a screenshot is only a clue for a failure
            pass
        ctx.close()
