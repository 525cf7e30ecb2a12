"""Cold start and warm overhead of sandboxed models: `sudo .venv/bin/python -m tests.model_services.measure`.

Cold start: deploy → first answer of the classical template on a small CT, over fresh services (p50/p95).
Warm overhead: a 64×256×256 int16 CT through the warm sandbox (encode, socket, runtime, decode) against
`Application.run` in this process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from model_builder import Volume
from model_builder.deploy import ServiceSpec
from model_builder.deploy.local import LocalDeployer
from model_builder.runtime.codec import decode_response, encode_request
from model_builder.testing.bundles import CLASSICAL_TEMPLATE
from tests.model_services.helpers import load_template_application


def synthetic_ct(shape: tuple[int, int, int]) -> Volume:
    """Air around an elliptic body of soft tissue, with noise."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    body = ((y - shape[1] / 2) / (shape[1] * 0.4)) ** 2 + ((x - shape[2] / 2) / (shape[2] * 0.45)) ** 2 <= 1
    array = np.where(body, 40, -1000).astype(np.int16) + np.random.default_rng(0).integers(-20, 20, shape, np.int16)
    return Volume(np.broadcast_to(array, shape).copy(), spacing=(2.5, 0.8, 0.8), modality="CT")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--warm-runs", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mcc-measure-"))
    root.chmod(0o755)
    bundle = root / "classical"
    shutil.copytree(CLASSICAL_TEMPLATE, bundle)
    for path in [bundle, *bundle.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    small = synthetic_ct((8, 64, 64))
    large = synthetic_ct((64, 256, 256))
    try:
        with LocalDeployer(stop_grace=5) as deployer:
            cold = []
            body, headers = encode_request(small)
            for run in range(args.cold_runs):
                start = time.perf_counter()
                deployer.deploy(ServiceSpec(f"cold-{run}", bundle, "body-mask", "1"))
                reply = deployer.infer(f"cold-{run}", body, headers)
                cold.append(time.perf_counter() - start)
                assert reply.status == 200, reply.body[:300]
                deployer.undeploy(f"cold-{run}")
            print(f"cold start (deploy → first answer, {args.cold_runs} runs, limits by {deployer.mechanism.value}):"
                  f" p50 {percentile(cold, 50) * 1000:.0f} ms, p95 {percentile(cold, 95) * 1000:.0f} ms,"
                  f" min {min(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms")

            app = load_template_application(bundle)
            local = []
            for _ in range(args.warm_runs):
                start = time.perf_counter()
                expected = app.run(large)
                local.append(time.perf_counter() - start)
            deployer.deploy(ServiceSpec("warm", bundle, "body-mask", "1"))
            deployer.infer("warm", *encode_request(large))  # start it
            encode, remote, decode, inside = [], [], [], []
            for _ in range(args.warm_runs):
                t0 = time.perf_counter()
                body, headers = encode_request(large)
                t1 = time.perf_counter()
                reply = deployer.infer("warm", body, headers)
                t2 = time.perf_counter()
                [output] = decode_response(reply.body, reply.headers)
                t3 = time.perf_counter()
                header = json.loads(reply.body[: int(reply.headers["Inference-Header-Content-Length"])])
                inside.append(header["parameters"]["timing_run"])  # the model's run, timed by the runtime
                encode.append(t1 - t0)
                remote.append(t2 - t1)
                decode.append(t3 - t2)
            np.testing.assert_array_equal(output.array, expected.array)
            total = [a + b + c for a, b, c in zip(encode, remote, decode, strict=True)]
            in_process, sandboxed = statistics.median(local), statistics.median(total)
            print(f"warm, 64×256×256 int16 ({large.array.nbytes / 2**20:.0f} MiB in, {args.warm_runs} runs, medians):"
                  f" in-process Application.run {in_process * 1000:.0f} ms; sandboxed {sandboxed * 1000:.0f} ms"
                  f" (encode {statistics.median(encode) * 1000:.1f}, deployer.infer"
                  f" {statistics.median(remote) * 1000:.0f} of which the model's run inside"
                  f" {statistics.median(inside) * 1000:.0f}, decode {statistics.median(decode) * 1000:.1f});"
                  f" overhead {(sandboxed - in_process) * 1000:.0f} ms ({(sandboxed / in_process - 1) * 100:.0f} %)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
