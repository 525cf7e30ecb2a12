"""Compatibility check with the reference V2 client, tritonclient[http] (not part of the suite: not pinned).

Run with an interpreter that has it, e.g. a scratch venv:
    python -m venv /tmp/triton-venv && /tmp/triton-venv/bin/pip install "tritonclient[http]==2.73.0"
    /tmp/triton-venv/bin/python tests/unit/model_builder/runtime/triton_compat.py
It starts the repository's runtime (its .venv) with the classical template on a loopback port and checks
health, metadata, binary and JSON inference with request parameters, and a V2 error.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "model_builder" / "templates" / "processing_classical"


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-m", "model_builder.runtime", "--bundle",
                                str(TEMPLATE), "--port", str(port)], cwd=ROOT)
    try:
        client = triton.InferenceServerClient(url=f"127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.is_server_live():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        assert client.is_server_ready() and client.is_model_ready("ct-body-mask")
        assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
        metadata = client.get_model_metadata("ct-body-mask", model_version="1")
        assert metadata["platform"] == "medcloudcare-sdk" and metadata["inputs"][0]["name"] == "volume"
        volume = np.full((4, 32, 32), -1000, np.int16)
        volume[:, 8:24, 8:24] = 40
        for binary in (True, False):
            tensor = triton.InferInput("volume", list(volume.shape), "INT16")
            tensor.set_data_from_numpy(volume, binary_data=binary)
            result = client.infer("ct-body-mask", [tensor], request_id="t-1",
                                  outputs=[triton.InferRequestedOutput("labels", binary_data=binary)],
                                  parameters={"modality": "CT", "spacing": "[2, 1, 1]"})
            labels = result.as_numpy("labels")
            assert labels.dtype == np.uint8 and labels.shape == volume.shape and int(labels.sum()) == 4 * 16 * 16
            assert result.get_response()["id"] == "t-1"
        try:
            client.infer("ct-body-mask", [tensor], parameters={"modality": "MR"})
            raise AssertionError("an MR series was accepted")
        except InferenceServerException as e:
            assert e.status() == "422" and "runs on CT, not MR" in e.message(), (e.status(), e.message())
        print("tritonclient", triton.__name__, "agrees with the runtime: health, metadata, binary, JSON, errors")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
