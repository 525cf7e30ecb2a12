"""Helpers for the model sandbox tests: calls through any `Deployer`, the probe's reports, polling, processes."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model_builder import LabelVolume, Volume
from model_builder.deploy import Reply
from model_builder.runtime.codec import decode_response, encode_request

TEST_BUNDLES = Path(__file__).resolve().parents[1] / "support" / "model_bundles"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll `condition` until it is truthy (and return it) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def runtime_processes(model_name: str) -> list[int]:
    """Pids of the runtime processes serving `model_name` (python, not bwrap), from /proc."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            comm = Path(entry.path, "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("python") and b"model_builder.runtime" in argv and model_name.encode() in argv:
            found.append(int(entry.name))
    return found


def load_template_application(bundle_dir: Path) -> Any:
    """The classical template's Application, built in this process (the reference for sandboxed answers)."""
    spec = importlib.util.spec_from_file_location("processing_classical_app", bundle_dir / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.BodyMaskApplication(str(bundle_dir))


def call(deployer: Any, name: str, volume: Volume) -> Reply:
    """One V2 infer call with `volume` through any `Deployer`."""
    body, headers = encode_request(volume)
    return deployer.infer(name, body, headers)


def probe(deployer: Any, name: str, attempt: str, **args: Any) -> Reply:
    """Ask the probe bundle to try `attempt` with `args`."""
    array = np.zeros((1, 4, 4), dtype=np.int16)
    return call(deployer, name, Volume(array, modality="CT", attributes={"attempt": attempt, "args": args}))


def report(reply: Reply) -> Any:
    """The probe's report from its V2 error."""
    assert reply.status == 500, (reply.status, reply.body[:500])
    message = json.loads(reply.body)["error"]
    assert "probe report " in message, message
    text = message.split("probe report ", 1)[1]
    return json.JSONDecoder().raw_decode(text)[0]


def error_of(reply: Reply) -> str:
    """The message of a V2 error reply."""
    return json.loads(reply.body)["error"]


def assert_serves_body_mask(deployer: Any, name: str, volume: Volume, reference: Any) -> None:
    """The service answers the classical template's mask for `volume`, as the in-process run does."""
    reply = call(deployer, name, volume)
    assert reply.status == 200, reply.body[:500]
    outputs = decode_response(reply.body, reply.headers)
    expected = reference.run(volume)
    assert len(outputs) == 1 and isinstance(outputs[0], LabelVolume)
    np.testing.assert_array_equal(outputs[0].array, expected.array)
    assert outputs[0].array.any()


