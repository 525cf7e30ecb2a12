"""Benchmark of the model runtime: exec → ready, and Application.run in-process vs HTTP /infer.

Run: .venv/bin/python bench/runtime_bench.py [--shape 128 256 256] [--repeat 5]
Prints where the time goes; asserts nothing (the tests do).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_builder.runtime.client import ModelClient  # noqa: E402
from model_builder.testing import CLASSICAL_TEMPLATE, synthetic_ct  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


def _accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
            return True
        except OSError:
            return False


def start(folder: Path) -> tuple[subprocess.Popen, float]:
    """A runtime of the classical template, and the seconds from exec to its socket accepting connections."""
    path = str(folder / "model.sock")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "model_builder.runtime", "--bundle", str(CLASSICAL_TEMPLATE),
                                "--unix", path, "--log-level", "WARNING"], env=ENV, cwd=folder)
    while not _accepts(path):
        if process.poll() is not None:
            raise SystemExit(f"the runtime exited with {process.returncode}")
        time.sleep(0.001)
    return process, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def median_seconds(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[128, 256, 256])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcc-rt-bench-", dir="/tmp") as folder:
        readies = []
        for _ in range(args.repeat):
            process, seconds = start(Path(folder))
            readies.append(seconds)
            stop(process)
        print(f"exec -> ready (classical template, Unix socket): median {statistics.median(readies) * 1000:.0f} ms,"
              f" min {min(readies) * 1000:.0f} ms, max {max(readies) * 1000:.0f} ms over {args.repeat}")

        volume = synthetic_ct(tuple(args.shape))
        spec = importlib.util.spec_from_file_location("classical_app", CLASSICAL_TEMPLATE / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        app = module.BodyMaskApplication(CLASSICAL_TEMPLATE)
        app.run(volume)  # warm
        direct = median_seconds(lambda: app.run(volume), args.repeat)

        process, _ = start(Path(folder))
        client = ModelClient("ct-body-mask", unix=str(Path(folder) / "model.sock"))
        client.infer(volume)  # warm
        parameters: dict = {}

        def over_http() -> None:
            parameters.update(client.infer(volume)[1])

        served = median_seconds(over_http, args.repeat)
        stop(process)
    size = volume.array.nbytes / 2 ** 20
    print(f"volume {tuple(args.shape)} int16 ({size:.0f} MiB), median of {args.repeat}:")
    print(f"  Application.run in-process: {direct * 1000:.0f} ms")
    print(f"  HTTP /infer (client encode + socket + server decode/run/validate/encode + client decode):"
          f" {served * 1000:.0f} ms, overhead {(served - direct) * 1000:.0f} ms ({(served / direct - 1) * 100:.0f} %)")
    print("  last response's stages: " + ", ".join(f"{k.removeprefix('timing_')} {v * 1000:.1f} ms"
                                                  for k, v in parameters.items()))


if __name__ == "__main__":
    main()
