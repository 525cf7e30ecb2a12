"""What the model services benchmark measures: cold starts split by the runtime's and the host's own log lines,
start-up stages in the bare sandbox, warm calls against `Application.run` in this process, a chunked upload.

Import it after putting the project root and local-dev on sys.path, as the benchmark scripts do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from harness import Gateway

from model_builder import Application, Volume
from model_builder.deploy import Deployer, Reply, ServiceSpec, seccomp, uds
from model_builder.deploy.sandbox import Account, SandboxConfig, bwrap_command, etc_files, preexec
from model_builder.runtime.codec import decode_response, encode_request, response_tensors

_STAMP = r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "  # logging's asctime: local time, milliseconds
LOADED = re.compile(_STAMP + r".* loaded .* in (?P<s>[\d.]+) s$", re.M)
SERVING = re.compile(_STAMP + r".* serving model .* ready (?P<s>[\d.]+) s after start$", re.M)
MB = 1e6


def ct_series() -> Volume:
    """A realistic series: the platform's chest phantom, 64 × 256 × 256 int16 HU, 2.5 mm slices."""
    from model_builder.samples.synthetic_ct import phantom_case

    return phantom_case(0, slices=64, rows=256, columns=256, fov_mm=380.0, slice_thickness=2.5).volume


def _wall(stamp: str) -> float:
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _answered(reply: Reply) -> dict:
    """The V2 response's JSON header of a 200 reply (its `parameters` hold the runtime's timings)."""
    assert reply.status == 200, reply.body[:500]
    size = next(int(v) for k, v in reply.headers.items() if k.lower() == "inference-header-content-length")
    return json.loads(reply.body[:size])


@dataclass(frozen=True)
class ColdRun:
    """One scaled-to-zero → first answer, in seconds, split at the moments the logs record."""

    total: float  # the infer call → its answer
    launch: float  # → the runtime's main(): host hop, deployer, cgroup, bwrap, interpreter, runtime imports
    load: float  # the bundle: manifest, entry point import, Application construction
    serve: float  # main() → socket in place, less the load (arguments, logging, binding)
    detect: float  # socket in place → the deployer saw it ready (its polling)
    request: float  # ready → answer: the body to the runtime, decode, the model's run, encode, back
    run: float  # the model's run inside (the runtime's timing_run)


def cold_start(deployer: Deployer, spec: ServiceSpec, volume: Volume, *, host_dir: Path, host_log: Path) -> ColdRun:
    """Deploy `spec` (scaled to zero), time its first answer to `volume`, read the instance's logs, undeploy."""
    body, headers = encode_request(volume)
    deployer.deploy(spec)
    try:
        started = time.time()
        reply = deployer.infer(spec.name, body, headers)
        ended = time.time()
        header = _answered(reply)
        runtime_log = next(host_dir.glob(f"*-{spec.name}-1/stderr.log")).read_text()
    finally:
        deployer.undeploy(spec.name)
    loaded, serving = LOADED.search(runtime_log), SERVING.search(runtime_log)
    assert loaded and serving, f"the runtime's log lacks its start-up lines:\n{runtime_log[-2000:]}"
    ready = re.search(_STAMP + rf".* instance \d+-{re.escape(spec.name)}-1 ready", host_log.read_text(), re.M)
    assert ready, f"the host's log {host_log} does not say when {spec.name} was ready"
    load, since_main = float(loaded["s"]), float(serving["s"])
    socket_at, ready_at = _wall(serving["at"]), _wall(ready["at"])
    return ColdRun(total=ended - started, launch=socket_at - since_main - started, load=load,
                   serve=since_main - load, detect=ready_at - socket_at, request=ended - ready_at,
                   run=float(header["parameters"]["timing_run"]))


# Run in the sandbox after the interpreter has started: the runtime's imports and its load of /bundle, stage by stage,
# in one process (so the split holds together however busy the machine is). Prints [[stage, seconds], ...].
PROBE = """
import json, sys, time
marks = [("", time.perf_counter())]
import model_builder.runtime.__main__
marks.append(("the runtime's imports (numpy, the SDK)", time.perf_counter()))
if sys.argv[1] == "monai":
    import torch
    marks.append(("model load: import torch", time.perf_counter()))
    import monai.bundle, monai.transforms
    marks.append(("model load: import monai.bundle, monai.transforms", time.perf_counter()))
from model_builder.runtime.loader import load_application
load_application("/bundle")
marks.append(("model load: the rest (manifest, entry import, Application(...))", time.perf_counter()))
print(json.dumps([[name, at - before] for (_, before), (name, at) in zip(marks, marks[1:])]))
"""


def sandbox_split(spec: ServiceSpec, runs: int, *, monai: bool) -> dict[str, list[float]]:
    """Seconds of each stage of a model's start in the sandbox the deployer builds for `spec` (its bwrap command,
    seccomp filter and user; limits by rlimit, no cgroup): bwrap alone, the interpreter, then PROBE's stages."""
    split: dict[str, list[float]] = {}
    for _ in range(runs):
        bare = sandbox_run(spec, ["/bin/true"])[0]
        interpreter = sandbox_run(spec, ["{python}", "-c", "pass"])[0]
        stages = json.loads(sandbox_run(spec, ["{python}", "-c", PROBE, "monai" if monai else "sdk"])[1])
        for name, seconds in [("bwrap alone (runs /bin/true)", bare), ("the Python interpreter", interpreter - bare),
                              *stages]:
            split.setdefault(name, []).append(seconds)
    return split


def sandbox_run(spec: ServiceSpec, program: list[str]) -> tuple[float, str]:
    """Run `program` ("{python}" for the runtime's interpreter) in the sandbox built for `spec`: seconds, stdout."""
    config = SandboxConfig()
    account = Account.lookup(config.user)
    with tempfile.TemporaryDirectory(prefix="mcc-bench-sandbox-") as work:
        root = Path(work)
        root.chmod(0o711)
        run, etc = root / "run", root / "etc"
        run.mkdir(mode=0o700)
        os.chown(run, account.uid, account.gid)
        etc.mkdir(mode=0o755)
        for name, text in etc_files(account).items():
            (etc / name).write_text(text)
            (etc / name).chmod(0o644)
        fd = seccomp.bpf_file()
        try:
            argv = bwrap_command(config, account, spec, run_dir=run, etc_dir=etc, seccomp_fd=fd)
            runtime_at = len(argv) - 1 - argv[::-1].index(config.python)  # where the runtime's command line starts
            argv = argv[:runtime_at] + [part.replace("{python}", config.python) for part in program]
            started = time.perf_counter()
            done = subprocess.run(argv, pass_fds=(fd,), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  preexec_fn=preexec(account, spec.limits, None, 0))
            seconds = time.perf_counter() - started
        finally:
            os.close(fd)
    if done.returncode != 0:
        raise RuntimeError(f"{program[0]} failed in the sandbox (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


@dataclass
class Warm:
    """Seconds per warm call, one entry per round; `equal` while every sandboxed answer matches the in-process one."""

    in_process: list[float] = field(default_factory=list)  # Application.run in this process
    sandboxed: list[float] = field(default_factory=list)  # encode + host + runtime + decode
    encode: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    run_inside: list[float] = field(default_factory=list)  # the model's run inside the sandbox (timing_run)
    host_less_run: list[float] = field(default_factory=list)  # the host's infer call less the model's run
    direct_less_run: list[float] = field(default_factory=list)  # the same body to the runtime's socket, less the run
    equal: bool = True


def _same(outputs: list, expected: object) -> bool:
    mine = response_tensors(outputs)
    theirs = response_tensors(expected if isinstance(expected, list) else [expected])
    return [t.name for t in mine] == [t.name for t in theirs] and all(
        a.array.dtype == b.array.dtype and np.array_equal(a.array, b.array) for a, b in zip(mine, theirs, strict=True))


def warm_calls(deployer: Deployer, spec: ServiceSpec, app: Application, volume: Volume, runs: int, *,
               host_dir: Path) -> Warm:
    """`runs` rounds of: `app.run` here, the sandboxed call through `deployer`, the runtime's socket directly
    (which bypasses the host, to tell its hop apart)."""
    deployer.deploy(spec)
    warm = Warm()
    try:
        _answered(deployer.infer(spec.name, *encode_request(volume)))  # starts the instance
        app.run(volume)  # and warms this process alike (torch's first call here is slower), not counted
        socket = str(next(host_dir.glob(f"*-{spec.name}-*/run/model.sock")))
        url = f"/v2/models/{spec.model_name}/versions/{spec.version}/infer"
        for _ in range(runs):
            t0 = time.perf_counter()
            expected = app.run(volume)
            t1 = time.perf_counter()
            body, headers = encode_request(volume)
            t2 = time.perf_counter()
            reply = deployer.infer(spec.name, body, headers)
            t3 = time.perf_counter()
            outputs = decode_response(reply.body, reply.headers)
            t4 = time.perf_counter()
            direct = Reply(*uds.request(socket, "POST", url, body, headers))
            t5 = time.perf_counter()
            run_inside = _answered(reply)["parameters"]["timing_run"]
            warm.in_process.append(t1 - t0)
            warm.encode.append(t2 - t1)
            warm.decode.append(t4 - t3)
            warm.sandboxed.append(t4 - t1)
            warm.run_inside.append(run_inside)
            warm.host_less_run.append(t3 - t2 - run_inside)
            warm.direct_less_run.append(t5 - t4 - _answered(direct)["parameters"]["timing_run"])
            warm.equal = warm.equal and _same(outputs, expected)
    finally:
        deployer.undeploy(spec.name)
    return warm


def upload_chunks(gw: Gateway, model_id: str, name: str, data: bytes) -> tuple[str, list[float]]:
    """A resumable upload of `data`, chunk after chunk in order; its id and the seconds of each chunk's PUT."""
    r = gw.session.post(f"{gw.origin}/api/models/{model_id}/uploads", json={"name": name, "size": len(data)},
                        headers=gw.headers())
    assert r.status_code == 201, r.text
    upload, seconds = r.json(), []
    url, chunk = f"{gw.origin}/api/models/{model_id}/uploads/{upload['id']}", upload["chunk_size"]
    for start in range(0, len(data), chunk):
        piece = data[start:start + chunk]
        headers = gw.headers(**{"Content-Type": "application/octet-stream",
                                "Content-Range": f"bytes {start}-{start + len(piece) - 1}/{len(data)}"})
        t0 = time.perf_counter()
        r = gw.session.put(url, data=piece, headers=headers)
        seconds.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    assert r.json()["complete"], r.text
    return upload["id"], seconds


def disk_writes(data: bytes, chunk: int, directory: Path) -> float:
    """Seconds to write `data` as one file per chunk (temporary name, then renamed), as the local store does."""
    folder = Path(tempfile.mkdtemp(prefix="disk-baseline-", dir=directory))
    started = time.perf_counter()
    for start in range(0, len(data), chunk):
        tmp, final = folder / f".{start:015d}.tmp", folder / f"{start:015d}"
        tmp.write_bytes(data[start:start + chunk])
        os.replace(tmp, final)
    seconds = time.perf_counter() - started
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return seconds
