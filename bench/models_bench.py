"""Model services benchmark: cold start and warm overhead of the sandboxed samples, publish-to-ready of a big bundle.

Starts a throwaway platform (PostgreSQL, Orthanc, the model host as root with its sandboxes, the functions behind
the HTTPS origin, the demo models), then prints, from one run:
- cold start of each sample model (classical ct_bone, MONAI ct_heart_unet): a service deployed scaled to zero →
  its first answer to a 64×256×256 int16 CT, through the model host's socket (`HostClient`, as the platform calls
  models); p50/p95, split by the runtime's and the host's own log lines (launch, model load, serving, readiness
  seen, first request), then split further in the same sandbox: bwrap alone, the interpreter, and a probe that
  times its own imports (the runtime's; torch and MONAI) and load; target p50 <= 2 s for the classical model
  (Knative's own cold start is 2-4 s);
- warm overhead per model: median of the sandboxed call (encode + host + runtime + decode) against
  `Application.run` in this process on the same series, alternately; target sandboxed <= 1.05 × in-process
  + 50 ms, with equal outputs;
- publish-to-ready of the classical sample with a --bundle-mb weight file (random bytes) through the HTTPS API:
  resumable upload (MB/s, against writing the same chunks to local disk in this process), POST versions
  (assembly, checks, storing), smoke run (validating → ready).
It ends with a table of every figure against its target (copied into docs/benchmarks.md).

Usage: sudo .venv/bin/python bench/models_bench.py [--cold-runs N] [--warm-runs N] [--bundle-mb 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

import models_work as work  # noqa: E402
from harness import PASSWORD, Gateway, pct, throwaway_platform, timed  # noqa: E402
from mcc_local.launcher import Platform  # noqa: E402

from model_builder import Volume  # noqa: E402
from model_builder.deploy import Deployer, ServiceSpec  # noqa: E402
from model_builder.monai_bundle import ENTRY_POINT as MONAI_ENTRY_POINT  # noqa: E402

Row = tuple[str, str, str, bool]  # figure, value, target ("info": none), whether it meets the target
# The demo's sample models by entry point: (short tag, label, cold runs by default).
SAMPLES = {"app:BoneApplication": ("bone", "ct_bone (classical)", 10),
           MONAI_ENTRY_POINT: ("unet", "ct_heart_unet (MONAI U-Net)", 5)}
COLD_TARGET_S = 2.0
PARTS = (("launch", "launch: host, deployer, bwrap, Python, runtime imports"),
         ("load", "model load: manifest, entry import, Application(...)"),
         ("serve", "server bound (socket in place)"),
         ("detect", "readiness seen by the deployer (its polling)"),
         ("request", "first request: body in, decode, run, encode, back"),
         ("run", "  of which the model's run inside"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, help="cold starts per model (default 10 classical, 5 U-Net)")
    parser.add_argument("--warm-runs", type=int, default=10, help="warm calls per model (default 10)")
    parser.add_argument("--sandbox-runs", type=int, default=10,
                        help="start-up splits in the bare sandbox (default 10 classical, at most 5 U-Net)")
    parser.add_argument("--bundle-mb", type=float, default=200.0, help="the weight file to publish, MB (default 200)")
    parser.add_argument("--keep-state", action="store_true", help="keep the throwaway platform's state directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root (sudo): the model host and the bare sandbox launches need it")
    if min(args.cold_runs or 1, args.warm_runs, args.sandbox_runs) < 1 or args.bundle_mb <= 0:
        parser.error("need runs >= 1 and --bundle-mb > 0")
    warnings.filterwarnings("ignore")  # self-signed TLS, and MONAI's deprecation notices in the in-process runs
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    volume = timed("CT series 64×256×256 int16 (chest phantom)", work.ct_series)

    with throwaway_platform(keep_state=args.keep_state) as platform:
        timed("platform up (with the demo models' smoke runs)", platform.up)
        from functions.common.platform.config import get_settings
        from model_builder.deploy.client import HostClient

        client = HostClient(get_settings().model_host_path)
        host_dir, host_log = platform.state / "model-host", platform.procs.log_dir / "model-host.log"
        specs = demo_specs()
        rows: list[Row] = []
        colds = {}
        for entry, (tag, label, default_runs) in SAMPLES.items():
            runs = args.cold_runs or default_runs
            colds[entry], found = measure_cold(client, label, specs[entry], tag, volume, runs, host_dir, host_log)
            rows += found
        for entry, (_, label, default_runs) in SAMPLES.items():
            measure_split(label, specs[entry], colds[entry], min(args.sandbox_runs, default_runs),
                          monai=entry == MONAI_ENTRY_POINT)
        for entry, (tag, label, _) in SAMPLES.items():
            rows += measure_warm(client, label, replace(specs[entry], name=f"bench-warm-{tag}"), volume,
                                 args.warm_runs, host_dir)
        rows += measure_publish(platform, args.bundle_mb)
        report(rows, started, load_before)
    return 0


def demo_specs() -> dict[str, ServiceSpec]:
    """The services of the two demo models' active versions, as the platform deploys them (named `bench`)."""
    from sqlalchemy import select

    from functions.common.ai_models import services
    from functions.common.ai_models.tables import AiModel, ModelVersion
    from functions.common.platform import db

    found = {}
    with db.session_scope() as session:
        for model in session.scalars(select(AiModel).where(AiModel.active_version.is_not(None))):
            row = session.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id,
                                                            ModelVersion.version == model.active_version))
            if row.manifest.get("entry_point") in SAMPLES:
                found[row.manifest["entry_point"]] = services.spec_for(model, row, name="bench")
    assert set(found) == set(SAMPLES), f"the demo models are not both active: found {sorted(found)}"
    return found


def measure_cold(client: Deployer, label: str, spec: ServiceSpec, tag: str, volume: Volume, runs: int,
                 host_dir: Path, host_log: Path) -> tuple[list[work.ColdRun], list[Row]]:
    """1. Scaled to zero → first answer, `runs` times on fresh services of the same version."""
    print(f"\nCold start, {label}: {runs} runs, scaled to zero → first answer to the 64×256×256 series,"
          " through the model host's socket", flush=True)
    cold = [work.cold_start(client, replace(spec, name=f"bench-cold-{tag}-{run}"), volume, host_dir=host_dir,
                            host_log=host_log) for run in range(runs)]
    totals = [c.total for c in cold]
    p50, p95 = pct(totals, 0.5), pct(totals, 0.95)
    print(f"  p50 {ms(p50)}, p95 {ms(p95)} (min {ms(min(totals))}, max {ms(max(totals))});"
          f" p50 / {COLD_TARGET_S:g} s target = {p50 / COLD_TARGET_S:.2f}")
    print("  where the time goes (median of each part):")
    for name, text in PARTS:
        print(f"    {text:<56} {ms(statistics.median(getattr(c, name) for c in cold)):>8}")
    less_run = pct([c.total - c.run for c in cold], 0.5)
    print(f"  p50 without the model's run: {ms(less_run)}")
    classical = tag == "bone"
    return cold, [(f"cold start p50, {label}", f"{ms(p50)} ({p50 / COLD_TARGET_S:.2f}×)",
                   f"<= {COLD_TARGET_S:g} s" if classical else "info", p50 <= COLD_TARGET_S or not classical),
                  (f"cold start p95, {label}", ms(p95), "info", True),
                  (f"cold start p50 less the model's run, {label}", ms(less_run), "info", True)]


def measure_split(label: str, spec: ServiceSpec, cold: list[work.ColdRun], runs: int, *, monai: bool) -> None:
    """The cold start's launch and load, split by programs run in the same sandbox (a probe times its own stages)."""
    print(f"\nStart-up split, {label}: bwrap alone, the interpreter, then a probe importing and loading the bundle"
          f" as the runtime does, in its sandbox; {runs} runs (medians)", flush=True)
    split = {name: statistics.median(values) for name, values in work.sandbox_split(spec, runs, monai=monai).items()}
    for name, seconds in split.items():
        print(f"  {name:<66} {ms(seconds):>8}")
    launch, load = (statistics.median(getattr(c, part) for c in cold) for part in ("launch", "load"))
    sandboxed = sum(seconds for name, seconds in split.items() if not name.startswith("model load"))
    print(f"  the cold starts (above): launch {ms(launch)}, of which the host and the deployer (HTTP hop, directories,"
          f" cgroup, seccomp filter, fork) ~{ms(max(0.0, launch - sandboxed))} (the difference of separate runs);"
          f" model load {ms(load)}")


def measure_warm(client: Deployer, label: str, spec: ServiceSpec, volume: Volume, runs: int,
                 host_dir: Path) -> list[Row]:
    """2. The sandboxed call against Application.run in this process, on the same series, alternately."""
    from model_builder.runtime.loader import load_application

    print(f"\nWarm, {label}: {runs} rounds of Application.run here, the sandboxed call, the runtime's socket"
          " directly (medians)", flush=True)
    app = load_application(spec.bundle_dir).app
    warm = work.warm_calls(client, spec, app, volume, runs, host_dir=host_dir)
    m = {name: statistics.median(getattr(warm, name)) for name in
         ("in_process", "sandboxed", "encode", "decode", "run_inside", "host_less_run", "direct_less_run")}
    limit = 1.05 * m["in_process"] + 0.050
    overhead = m["sandboxed"] - m["in_process"]
    print(f"  in-process Application.run {ms(m['in_process'])}; sandboxed {ms(m['sandboxed'])};"
          f" overhead {ms(overhead)} ({overhead / m['in_process'] * 100:.0f} %); limit 5 % + 50 ms = {ms(limit)}")
    print("  where the overhead goes (medians; each call less the model's run the runtime timed):")
    hop = m["host_less_run"] - m["direct_less_run"]
    for text, seconds in (
            ("encode the request here", m["encode"]),
            ("the host's hop (this process → host → runtime socket, and back)", hop),
            ("the runtime: HTTP, decode, validate outputs, encode the response", m["direct_less_run"]),
            (f"the model's run inside ({ms(m['run_inside'])}) less here", m["run_inside"] - m["in_process"]),
            ("decode the response here", m["decode"])):
        print(f"    {text:<66} {seconds * 1000:6.1f} ms")
    print(f"  outputs equal: {'yes' if warm.equal else 'NO'}")
    return [(f"warm sandboxed / in-process, {label}", f"{ms(m['sandboxed'])} / {ms(m['in_process'])}", "info", True),
            (f"warm overhead, {label}",
             f"{ms(overhead)} ({overhead / m['in_process'] * 100:.0f} %) of {ms(limit - m['in_process'])}",
             "<= 5 % + 50 ms", m["sandboxed"] <= limit),
            (f"warm outputs sandboxed = in-process, {label}", "yes" if warm.equal else "no", "equal", warm.equal)]


def measure_publish(platform: Platform, megabytes: float) -> list[Row]:
    """3. A classical bundle with a big weight file: chunked upload, publish, smoke run, over HTTPS."""
    import numpy as np

    from functions.auth import accounts
    from functions.common.platform import db
    from functions.common.platform.config import get_settings
    from model_builder.validation import validate_files

    email = "bench-researcher@example.org"
    with db.session_scope() as session:
        accounts.create_user(session, email=email, name="Bench Researcher", role="researcher", password=PASSWORD,
                             email_verified=True, status="active")
    gw = Gateway(f"https://127.0.0.1:{platform.ports.https}", platform.public_url, email)
    sample = ROOT / "model_builder" / "samples" / "ct_bone"
    files = {name: (sample / name).read_text() for name in ("app.py", "manifest.json")}
    data = np.random.default_rng(7).bytes(int(megabytes * work.MB))
    print(f"\nPublish-to-ready: ct_bone's files + a {len(data) / work.MB:.0f} MB weight file (random bytes),"
          " over HTTPS", flush=True)
    r = gw.session.post(gw.origin + "/api/models", headers=gw.headers(), json={
        "name": "Bench big bundle", "description": "Benchmark", "architecture": "Threshold", "task": "segmentation",
        "modality": "CT"})
    assert r.status_code == 201, r.text
    model = f"{gw.origin}/api/models/{r.json()['id']}"
    t0 = time.perf_counter()
    upload_id, chunks = work.upload_chunks(gw, r.json()["id"], "random.bin", data)
    t1 = time.perf_counter()
    r = gw.session.post(model + "/versions", headers=gw.headers(), json={
        "files": files, "weights": {"weights/random.bin": upload_id}, "notes": "Benchmark."})
    t2 = time.perf_counter()
    assert r.status_code == 202, r.text
    version = f"{model}/versions/{r.json()['version']}"
    status, deadline = "validating", time.monotonic() + 600
    while status == "validating" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = gw.session.get(version, headers=gw.headers()).json()["status"]
    t3 = time.perf_counter()
    assert status == "ready", f"the version ended {status}"
    disk = work.disk_writes(data, get_settings().model_chunk_bytes, platform.state)
    with tempfile.TemporaryDirectory(dir=platform.state) as scratch:
        weights = Path(scratch) / "random.bin"
        weights.write_bytes(data)
        checks = time.perf_counter()
        validate_files(files, {"weights/random.bin": weights}, workdir=Path(scratch))
        checks = time.perf_counter() - checks
    upload_mb_s, disk_mb_s = len(data) / work.MB / (t1 - t0), len(data) / work.MB / disk
    print(f"  upload: {t1 - t0:.1f} s, {upload_mb_s:.0f} MB/s, {len(chunks)} chunks (median {ms(pct(chunks, 0.5))},"
          f" the last, which hashes the whole file, {ms(chunks[-1])})")
    print(f"  the same chunks written to local disk here: {disk:.2f} s, {disk_mb_s:.0f} MB/s;"
          f" ratio upload / disk {upload_mb_s / disk_mb_s:.2f}")
    print(f"  publish request (materialise, assemble, check, store, unpack for the host): {t2 - t1:.1f} s;"
          f" the assembly and checks alone (validate_files) here: {checks:.1f} s")
    print(f"  smoke run (validating → ready): {t3 - t2:.1f} s")
    print(f"  publish-to-ready: {t3 - t0:.1f} s")
    size = f"{len(data) / work.MB:.0f} MB"
    return [(f"publish-to-ready, {size} bundle", f"{t3 - t0:.1f} s", "info", True),
            (f"  upload {size}", f"{t1 - t0:.1f} s", "info", True),
            ("  upload MB/s / local disk MB/s", f"{upload_mb_s / disk_mb_s:.2f}", "info", True),
            ("  publish request", f"{t2 - t1:.1f} s", "info", True),
            ("  smoke run (validating → ready)", f"{t3 - t2:.1f} s", "info", True)]


def report(rows: list[Row], started: float, load_before: float) -> None:
    """Every figure against its target, a line per target, and how busy the machine was."""
    print(f"\n{'figure':<64} {'value':>24}  {'target':<15} result")
    for figure, value, target, ok in rows:
        verdict = "-" if target == "info" else ("PASS" if ok else "FAIL")
        print(f"{figure:<64} {value:>24}  {target:<15} {verdict}")
    print()
    for figure, value, target, ok in rows:
        if target != "info":
            print(f"target {target} for {figure}: {'met' if ok else 'NOT met'} ({value})")
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s; load average (1 min) {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    if load_before > 0.5:
        print("note: other work was running when the benchmark started; figures are noisier, rerun on a quiet machine")


if __name__ == "__main__":
    sys.exit(main())
