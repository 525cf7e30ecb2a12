"""Command 1 publishes the two sample models for the demo researcher and to health professionals, each validated
by its smoke run in the sandbox; the model host runs as root (it makes cgroups) and each model as `mcc-model`."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from model_builder.deploy.client import HostClient
from model_builder.runtime.codec import decode_response, encode_request
from model_builder.validation.smoke import synthetic_volume
from tests.e2e.conftest import LivePlatform


def _runtime_users() -> set[str]:
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            # The local deployer's runtimes serve on a Unix socket in their sandbox (other suites' runtimes, e.g.
            # a Knative pod's stand-in, listen on a TCP port).
            line = cmdline.read_bytes()
            if b"model_builder.runtime" in line and b"--unix" in line and b"bwrap" not in line[:40]:
                found.add(pwd.getpwuid(cmdline.parent.stat().st_uid).pw_name)
        except (OSError, KeyError):
            continue
    return found


def test_the_sample_models_are_ready_and_published(live_platform: LivePlatform):
    researcher = live_platform.signed_in("researcher")
    mine = {m["name"]: m for m in researcher.get("/api/models?scope=mine").json()["items"]}
    assert len(mine) == 2, sorted(mine)
    for model in mine.values():
        assert model["active_version"] == 1 and model["published_version"] == 1, model
        assert model["latest_version"]["status"] == "ready"
    doctor = live_platform.signed_in("health_professional")
    published = {m["id"] for m in doctor.get("/api/models?scope=published").json()["items"]}
    assert {m["id"] for m in mine.values()} <= published


def test_the_model_host_serves_each_model_as_mcc_model(live_platform: LivePlatform):
    host = HostClient(live_platform.state / "run" / "model-host.sock")
    services = {s.name for s in host.services()}
    assert len(services) == 2, services  # the active (and published) version of each sample
    volume = synthetic_volume("CT")
    body, headers = encode_request(volume)
    for name in sorted(services):
        reply = host.infer(name, body, headers)
        assert reply.status == 200, reply.body[:500]
        [output] = decode_response(reply.body, reply.headers)
        assert output.array.shape == volume.shape
    if os.geteuid() == 0:
        assert _runtime_users() == {"mcc-model"}
