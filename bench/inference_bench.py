"""Inference benchmark (issue 12): click → result visible for each sample model on a 200-slice CT, where the time
goes, the series read against Orthanc direct, and jobs per minute with 4 jobs in flight.

Starts a throwaway platform (PostgreSQL, encrypted Orthanc, the model host as root with the demo models ready, the
functions behind the HTTPS origin), stops its executor process, stores one synthetic CT (default 200 slices of
512×512, ~105 MB) through STOW-RS as a health professional, then prints, from one run:
- the series read (`read_series`) against the same instances straight from Orthanc, MB/s and their ratio
  (target >= 0.8; `series_read_bench.measure`, the same series);
- per sample model (classical ct_bone, MONAI ct_heart_unet), --runs clicks one after the other, with one executor
  serving in this process (`Executor(name).serve(stop)` in a thread, woken by LISTEN/NOTIFY): POST
  /api/inference/jobs → the job polled every --poll-ms → QIDO-RS finds the result series → WADO-RS returns it;
  the first run is cold (the model's service scaled to zero) and reported apart; p50/p95 of the others and where
  the time goes: the executor's own timings (queue wait, dispatch, read, model, build, store) and what lies
  outside them (the API, NOTIFY → claim, marking done, the poll, QIDO, WADO);
- queue wait + dispatch p50 over every run of both models on the otherwise idle platform (target <= 100 ms);
- jobs per minute with --in-flight (4) jobs queued or running and as many executors (--executors processes, as
  the launcher starts its one, or threads of this process), for the classical model alone and for a half/half
  mix of both;
- with --model-split, the model stage split on the same volume (models_bench.measure_warm: Application.run here
  against the sandboxed call: encode, the host's hop, the runtime, the run inside, decode).
It ends with a table of every figure against its target (copied into docs/benchmarks.md).

Usage: sudo .venv/bin/python bench/inference_bench.py [--runs 7] [--poll-ms 100] [--reads 3] [--rows 512]
       [--load-jobs 12] [--mix-jobs 8] [--in-flight 4] [--executors processes|threads] [--model-split ROUNDS]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

import inference_work as work  # noqa: E402
import series_read_bench  # noqa: E402
from harness import Gateway, pct, throwaway_platform, timed  # noqa: E402
from mcc_local.dicomgen import Patient, ct_series, to_bytes  # noqa: E402
from mcc_local.launcher import Platform  # noqa: E402
from models_bench import SAMPLES, Row, demo_specs, measure_warm, ms, report  # noqa: E402

if TYPE_CHECKING:
    from functions.common.security.tokens import Principal

EMAIL = "bench-inference@example.org"
DISPATCH_TARGET_S, READ_TARGET = 0.100, 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="clicks per model, the first one cold (default 7)")
    parser.add_argument("--poll-ms", type=float, default=100.0, help="how often the job is polled (default 100)")
    parser.add_argument("--reads", type=int, default=3, help="timed series reads each way (default 3)")
    parser.add_argument("--slices", type=int, default=200, help="slices of the CT (default 200)")
    parser.add_argument("--rows", type=int, default=512, help="rows and columns of each slice (default 512)")
    parser.add_argument("--load-jobs", type=int, default=12, help="classical jobs run under load (default 12)")
    parser.add_argument("--mix-jobs", type=int, default=8, help="jobs of the half/half mix (default 8; 0: none)")
    parser.add_argument("--in-flight", type=int, default=4, help="jobs queued or running at once (default 4)")
    parser.add_argument("--executors", choices=("processes", "threads"), default="processes",
                        help="what runs the jobs under load (default processes, as deployed)")
    parser.add_argument("--model-split", type=int, default=0, metavar="ROUNDS",
                        help="also split the model stage: ROUNDS of Application.run here vs the sandboxed call on the"
                             " same volume (models_bench.measure_warm; default 0: not run, the U-Net's take ~40 s)")
    parser.add_argument("--keep-state", action="store_true", help="keep the throwaway platform's state directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root (sudo): the model host needs it")
    if min(args.runs - 1, args.reads, args.in_flight) < 1 or args.load_jobs <= args.in_flight or args.mix_jobs < 0:
        parser.error("need --runs >= 2, --reads >= 1, --in-flight >= 1 and --load-jobs > --in-flight")
    warnings.filterwarnings("ignore")  # self-signed TLS
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    series = ct_series(Patient(name="BENCH^VOLUME", patient_id="BENCH-INF-1"), slices=args.slices,
                       rows=args.rows, columns=args.rows)
    for ds in series:
        ds.PatientAge = "061Y"  # series_read_bench.measure checks the name and age it reads back
    files = timed(f"CT {args.slices}×{args.rows}×{args.rows} generated", lambda: [to_bytes(d) for d in series])
    study_uid, series_uid = str(series[0].StudyInstanceUID), str(series[0].SeriesInstanceUID)
    size_mb = sum(map(len, files)) / 1e6

    with throwaway_platform(keep_state=args.keep_state) as platform:
        timed("platform up (with the demo models' smoke runs)", platform.up)
        platform.procs.stop("inference-executor")  # this bench decides who runs the jobs
        principal = series_read_bench._create_user(EMAIL)
        gw = Gateway(f"https://127.0.0.1:{platform.ports.https}", platform.public_url, EMAIL)
        timed(f"stored through STOW-RS ({size_mb:.0f} MB)", lambda: series_read_bench._store(gw, files))
        models = sample_models()
        rows: list[Row] = []

        print(f"\nSeries read vs Orthanc direct, same series (series_read_bench.measure, {args.reads} reads each)")
        ratio = series_read_bench.measure(platform, principal, study_uid, series_uid, args.reads)
        rows.append(("series read / Orthanc direct (MB/s)", f"{ratio:.2f}", f">= {READ_TARGET}",
                     ratio >= READ_TARGET))

        every: list[work.Run] = []
        with work.NotifyClock() as clock, work.executors(platform, 1, "threads"):
            for _, label, model_id, service in models:
                runs = measure_clicks(gw, clock, label, model_id, service, study_uid, series_uid, args, size_mb)
                every += runs
                rows += click_rows(label, runs)
        waits = [r.timings["queue_wait"] + r.timings["dispatch"] for r in every]
        p50 = pct(waits, 0.5)
        print(f"\nqueue wait + dispatch over all {len(waits)} runs: p50 {ms(p50)}, p95 {ms(pct(waits, 0.95))}"
              f" (target p50 <= {ms(DISPATCH_TARGET_S)})")
        rows.append(("queue wait + dispatch p50, idle platform", ms(p50), f"<= {ms(DISPATCH_TARGET_S)}",
                     p50 <= DISPATCH_TARGET_S))

        bone = next(m for m in models if m[0] == "bone")
        mixes = [("ct_bone only", [bone[2]] * args.load_jobs)]
        if args.mix_jobs:
            mixes.append(("half ct_bone, half ct_heart_unet", [m[2] for m in models] * (args.mix_jobs // 2)))
        names = {m[2]: m[0] for m in models}
        with work.executors(platform, args.in_flight, args.executors):
            for what, mix in mixes:
                rows += measure_load(gw, what, mix, names, args, study_uid, series_uid)
        if args.model_split:
            split_model_stage(platform, principal, study_uid, series_uid, args.model_split)
        report(rows, started, load_before)
    return 0


def sample_models() -> list[tuple[str, str, str, str]]:
    """(tag, label, model id, service name) of the demo's sample models, as health professionals run them."""
    from sqlalchemy import select

    from functions.common.ai_models import services
    from functions.common.ai_models.tables import AiModel, ModelVersion
    from functions.common.platform import db

    found = {}
    with db.session_scope() as session:
        for model, row in session.execute(select(AiModel, ModelVersion).join(
                ModelVersion, ModelVersion.model_id == AiModel.id).where(ModelVersion.published)):
            entry = row.manifest.get("entry_point")
            if entry in SAMPLES:
                tag, label, _ = SAMPLES[entry]
                found[entry] = (tag, label, str(model.id), services.service_name(model.id, row.version))
    assert set(found) == set(SAMPLES), f"the sample models are not both published: found {sorted(found)}"
    return [found[entry] for entry in SAMPLES]


def split_model_stage(platform: Platform, principal: Principal, study_uid: str, series_uid: str, rounds: int) -> None:
    """The executor's model stage on this series, split as the model services bench splits a warm call."""
    from dataclasses import replace

    from functions.common.access.policy import Action, study_for
    from functions.common.dicom.volumes import read_series
    from functions.common.platform import db
    from functions.common.platform.config import get_settings
    from model_builder.deploy.client import HostClient

    with db.session_scope() as session:
        study = study_for(session, principal, study_uid, Action.READ, series_uid=series_uid)
        volume = read_series(session, study, series_uid).volume
    client, specs = HostClient(get_settings().model_host_path), demo_specs()
    for entry, (tag, label, _) in SAMPLES.items():
        measure_warm(client, label, replace(specs[entry], name=f"bench-split-{tag}"), volume, rounds,
                     platform.state / "model-host")


def measure_clicks(gw: Gateway, clock: work.NotifyClock, label: str, model_id: str, service: str, study_uid: str,
                   series_uid: str, args: argparse.Namespace, size_mb: float) -> list[work.Run]:
    """--runs clicks one after the other; prints the cold one, p50/p95 of the warm ones and where their time goes."""
    from functions.common.ai_models import services

    instances = services.deployer().status(service).instances
    print(f"\nClick → result visible, {label}: {args.runs} runs, {args.slices}×{args.rows}×{args.rows} CT, job polled"
          f" every {args.poll_ms:g} ms; before the first: {instances} instance(s) running", flush=True)
    runs = [work.click_to_visible(gw, clock, model_id=model_id, study_uid=study_uid, series_uid=series_uid,
                                  poll_s=args.poll_ms / 1000) for _ in range(args.runs)]
    cold, warm = runs[0], runs[1:]
    totals = [r.total for r in warm]
    print(f"  first run ({'cold: scaled to zero' if instances == 0 else 'an instance was running'}):"
          f" {cold.total:.2f} s, of which model {cold.timings['model']:.2f} s")
    print(f"  warm: p50 {pct(totals, 0.5):.2f} s, p95 {pct(totals, 0.95):.2f} s (min {min(totals):.2f},"
          f" max {max(totals):.2f}); attempts {sorted({r.attempts for r in runs})}")
    med = lambda values: statistics.median(values)  # noqa: E731
    notify = [r.notify_to_claim for r in warm if r.notify_to_claim is not None]
    parts = [("POST sent → job row (TLS, auth, checks, insert)", med(r.before_insert for r in warm)),
             *[(f"{stage} (executor)", med(r.timings[stage] for r in warm)) for stage in work.STAGES],
             ("stored → job marked done", med(r.mark_done for r in warm)),
             (f"marked done → seen by the poll (every {args.poll_ms:g} ms)", med(r.seen for r in warm)),
             ("QIDO-RS finds the result series", med(r.qido for r in warm)),
             (f"WADO-RS returns it ({med(r.megabytes for r in warm):.1f} MB)", med(r.wado for r in warm))]
    print("  where the time goes (medians of the warm runs):")
    for text, seconds in parts:
        print(f"    {text:<62} {ms(seconds):>9}")
    print(f"    {'sum of the medians':<62} {ms(sum(s for _, s in parts)):>9}  (p50 total {ms(pct(totals, 0.5))})")
    print(f"  inside the queue wait: NOTIFY seen here → claimed {ms(med(notify)) if notify else 'n/a'};"
          f" outside it: POST → 202 {ms(med(r.enqueue for r in warm))} (the row exists before the answer)")
    read = med(r.timings["read"] for r in warm)
    print(f"  the executor's read: {size_mb / read:.0f} MB/s ({size_mb:.0f} MB of DICOM in {read:.2f} s)")
    return runs


def click_rows(label: str, runs: list[work.Run]) -> list[Row]:
    totals = [r.total for r in runs[1:]]
    med = {stage: statistics.median(r.timings[stage] for r in runs[1:]) for stage in work.STAGES}
    split = "/".join(f"{med[stage]:.2f}" for stage in ("read", "model", "build", "store"))
    return [(f"click → visible p50 / p95, {label}", f"{pct(totals, 0.5):.2f} / {pct(totals, 0.95):.2f} s", "info",
             True),
            (f"  first run (cold), {label}", f"{runs[0].total:.2f} s", "info", True),
            (f"  read/model/build/store p50, {label}", f"{split} s", "info", True)]


def measure_load(gw: Gateway, what: str, mix: list[str], names: dict[str, str], args: argparse.Namespace,
                 study_uid: str, series_uid: str) -> list[Row]:
    """Jobs per minute with --in-flight jobs queued or running, one executor each."""
    print(f"\nUnder load, {what}: {len(mix)} jobs, {args.in_flight} in flight, {args.in_flight} executor"
          f" {args.executors}", flush=True)
    load = work.run_load(gw, mix, in_flight=args.in_flight, study_uid=study_uid, series_uid=series_uid)
    overall, steady = load.per_minute(), load.per_minute(skip=args.in_flight)
    overall_text, steady_text = (f"{v:.1f}" if v is not None else "n/a" for v in (overall, steady))
    print(f"  {overall_text} jobs/min from the first POST to the last end; {steady_text} jobs/min after the first"
          f" {args.in_flight} ended (no ramp-up: executors and instances warm); failed {len(load.failed)}"
          + (f": {sorted(set(load.failed.values()))}" if load.failed else ""))
    for model_id in dict.fromkeys(mix):
        done = [j for j in load.timings if load.model_of[j] == model_id]
        if not done:
            continue
        med = {stage: statistics.median(load.timings[j][stage] for j in done) for stage in work.STAGES}
        spent = statistics.median(load.ended[j] - load.queued[j] for j in done)
        print(f"  {names[model_id]}: {len(done)} done, queued → ended p50 {spent:.2f} s; executor p50 "
              + ", ".join(f"{stage} {ms(seconds)}" for stage, seconds in med.items()))
    return [(f"jobs/min, {args.in_flight} in flight, {what}",
             f"{overall_text} (steady {steady_text}), {len(load.failed)} failed", "none failed", not load.failed)]


if __name__ == "__main__":
    sys.exit(main())
