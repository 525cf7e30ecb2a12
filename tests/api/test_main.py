"""The functions-framework target (functions/auth/main.py) run on its own, as Knative runs it: same
environment, same database and keys as the origin, no local-dev code in between."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mcc_local.procs import free_port

from functions.auth.views import api
from tests.support.api_client import STRONG_PASSWORD, AccountFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def standalone(platform_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`functions-framework --target=auth` on a free loopback port; its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("functions-framework") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "functions-framework"), "--source=functions/auth/main.py", "--target=auth",
             "--host=127.0.0.1", f"--port={port}"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"functions-framework exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"functions-framework did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_liveness_answers_at_the_root_path(standalone: str) -> None:
    r = requests.get(standalone + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readiness_checks_the_database(standalone: str) -> None:
    r = requests.get(standalone + "/api/auth/readyz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_openapi_document_describes_every_route(standalone: str) -> None:
    r = requests.get(standalone + "/api/auth/openapi.json", timeout=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "MedCloudCare auth"
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    declared = {(m, api.prefix + re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", r.rule)) for r in api.routes
                for m in r.methods}
    assert documented == declared
    assert doc["paths"]["/api/auth/admin/users"]["get"]["x-access"] == "admin"
    assert doc["paths"]["/api/auth/login"]["post"]["security"] == []
    login_schema = doc["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login_schema["required"] == ["email", "password"]


def test_standalone_function_shares_accounts_and_keys_with_the_origin(standalone: str,
                                                                      factory: AccountFactory) -> None:
    account = factory.create("researcher")
    r = requests.post(standalone + "/api/auth/login", timeout=10,
                      json={"email": account.email, "password": STRONG_PASSWORD, "client": "api"})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = account.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == account.id
