"""`filerate process`: run one phase on a Dask cluster and record everything measured.

The step: settings -> cluster (engine.cluster) -> warm-up and timed repeats
(engine.repeats) -> outputs. Start-up (cluster + kernel compilation) is timed apart from
processing. Every file of the manifest ends each repeat as ok or as an error with a
reason; outputs are described in docs/DATA.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from filerate import atomic, fmt
from filerate.engine import (
    cluster,
    coldrun,
    daskreport,
    disk,
    machine,
    measurement,
    monitor,
    repeats,
    rounds,
    scheduler_log,
    security,
    slurm,
    tasks,
    taskspec,
    worker_staging,
)
from filerate.engine.records import BATCH_COLUMNS, FileStatus
from filerate.errors import UserError
from filerate.stats import cv_pct

#: JSON of a fault to inject into every task (tests only: docs/RELIABILITY.md)
TEST_FAULT_ENV = taskspec.TEST_FAULT_ENV
injected_fault = taskspec.injected_fault
#: what a phase directory holds; run.json (written last) means the rest is complete
OUTPUTS = ("run.json", "files.parquet", "batches.parquet", "resources.parquet")
#: a ``full`` phase's duplicate pairs and groups (engine/dedup), removed with the outputs
DUPLICATES = "duplicates.parquet"
#: written only with dask_report: true (engine.daskreport) or at ``full``
OPTIONAL_OUTPUTS = (daskreport.REPORT_NAME, DUPLICATES)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process",
        help="run one phase on a Dask cluster (CPU or GPU) and write its measurements",
        description=(
            "Process one phase: start the cluster the phase asks for (LocalCluster, "
            "LocalCUDACluster or an existing scheduler), run warm-up and timed repeats over "
            "the corpus in batches, and write run.json, files.parquet, batches.parquet and "
            "resources.parquet into --out."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--settings", help="the phase settings as JSON (what Snakemake passes)")
    src.add_argument("--config", help="a config file; use with --phase")
    p.add_argument("--phase", help="phase name in --config")
    p.add_argument("--manifest", required=True, help="the corpus manifest.parquet")
    p.add_argument(
        "--data-dir",
        required=True,
        help="directory holding the files (the staged copy or the corpus itself)",
    )
    p.add_argument("--staging-json", help="the staging record of this phase, if any")
    p.add_argument("--out", required=True, help="output directory for this phase")
    p.set_defaults(func=run)


def _settings(args) -> dict:
    from filerate import config as cfg

    if args.settings:
        return json.loads(args.settings)
    if not args.phase:
        raise UserError("--config needs --phase NAME")
    all_phases = cfg.phases(cfg.load(args.config))
    if args.phase not in all_phases:
        raise UserError(
            f"phase {args.phase!r} is not in {args.config}: choose one of {', '.join(all_phases)}"
        )
    return all_phases[args.phase]


def _terminate(signum, frame):
    # SIGTERM (Snakemake stopping its jobs, a batch system's kill) unwinds like Ctrl-C, so
    # the cluster is shut down and no run.json is written
    raise KeyboardInterrupt(f"signal {signum}")


def run(args) -> int:
    settings = _settings(args)
    if not Path(args.manifest).is_file():
        raise UserError(f"manifest {args.manifest} does not exist: run `filerate corpus` first")
    if not Path(args.data_dir).is_dir():
        raise UserError(f"data directory {args.data_dir} does not exist")
    staging = json.loads(Path(args.staging_json).read_text()) if args.staging_json else None
    print(_plan_line(settings), file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_phase(settings, args.manifest, args.data_dir, staging, Path(args.out))
    finally:
        signal.signal(signal.SIGTERM, previous)
    s = result["summary"]
    ci = s.get("files_per_s_ci") or {}
    rate = fmt.rate_ci(s["files_per_s_median"], ci.get("low"), ci.get("high"))
    floor_text = (
        f", {fmt.num(s['fraction_of_floor'], 2)} of the floor" if s.get("fraction_of_floor") else ""
    )
    print(
        f"phase {settings['name']}: {rate} median "
        f"over {s['repeats']} repeats ({s.get('stop_reason')}{floor_text}; "
        f"{result['backend']['used']}, "
        f"{result['cluster']['processes']} x {result['cluster']['threads_per_process']} threads); "
        f"{s['files_ok']} ok, {s['files_error']} in error",
        file=sys.stderr,
    )
    _print_soak(settings["name"], result.get("soak"))
    if s["retries"] or result["lost_workers"]:
        print(
            f"phase {settings['name']}: {len(result['lost_workers'])} worker(s) lost, "
            f"{s['retries']} batch attempt(s) retried, {s['failed_tasks']} task(s) failed "
            "(see lost_workers and repeats in run.json)",
            file=sys.stderr,
        )
    if result["status"] == "timeout":
        print(
            f"filerate process: error: phase {settings['name']} stopped after timeout_s="
            f"{settings['timeout_s']:g} s in {result['repeats'][-1]['label']}: "
            f"{result['timed_out_files']} unfinished files recorded as errors "
            "('timeout: ...'); raise timeout_s or make the phase smaller",
            file=sys.stderr,
        )
        return 1
    return 0 if result["status"] == "ok" else 1


def _plan_line(settings: dict) -> str:
    """What the phase is about to do and for how long at most: the first progress line
    (a repeat line follows each repeat)."""
    r = settings.get("resolved") or {}
    if settings.get("duration_s"):
        how = f"a soak of {fmt.seconds(settings['duration_s'])}"
    elif settings.get("repeats"):
        how = f"{settings['repeats']} timed repeats"
    elif "max_phase_s" in settings:
        how = (
            f"{settings.get('min_repeats')}–{settings.get('max_repeats')} timed repeats, "
            f"until the median's CI is within ±{fmt.num(settings.get('ci_target_pct'))} % "
            f"or {fmt.seconds(settings['max_phase_s'])} have passed"
        )
    else:
        how = "timed repeats"
    return (
        f"phase {settings.get('name')}: starting {r.get('processes', '?')} x "
        f"{r.get('threads_per_process', '?')} threads ({settings.get('backend')}), a "
        f"warm-up, then {how}"
    )


def _print_soak(name: str, soak: dict | None) -> None:
    if soak:
        drifting = ", ".join(soak["drifting"]) or "nothing drifts"
        print(
            f"phase {name}: soak {soak['verdict']} over {soak['intervals']} intervals "
            f"({drifting}; details in run.json soak)",
            file=sys.stderr,
        )


def run_phase(
    settings: dict, manifest_path: str, data_dir: str, staging: dict | None, out: Path
) -> dict:
    """Run one phase: settings -> cluster -> repeats -> outputs in ``out``; returns run.json."""
    job = prepare(settings, manifest_path, data_dir, staging, out)
    with monitor.Sampler(_ramdisk_root(staging), device=disk.block_device(data_dir)) as sampler:
        info = cluster.start(settings, job.backend, out)
        try:
            done, dask_report, job.staging, measured = _run_on(
                info,
                settings,
                job.spec_base,
                job.batches,
                staging,
                files=len(job.manifest),
                deadline=job.deadline,
                out=out,
                storage=job.storage,
                backend=job.backend,
            )
            dedup = _find_duplicates(info.client, done.last, job.manifest, settings, data_dir, out)
        finally:
            info.close()
    return finish(job, info.record, done, measured, sampler, dask_report, dedup)


@dataclass
class PhaseJob:
    """What a phase has before its cluster starts (engine.group runs several at once)."""

    settings: dict
    manifest: pd.DataFrame
    data_dir: str
    staging: dict | None
    out: Path
    backend: dict
    batches: list
    spec_base: dict
    deadline: float
    storage: coldrun.RepeatStorage
    started_at: float


def prepare(
    settings: dict,
    manifest_path: str,
    data_dir: str,
    staging: dict | None,
    out: Path,
    backend: dict | None = None,
) -> PhaseJob:
    """The manifest, backend, batches and task spec; earlier outputs removed; the storage
    handling (listing, eviction table) prepared. The phase's timeout counts from here."""
    manifest = coldrun.read_manifest(manifest_path)
    started_at = time.time()
    backend = backend or cluster.choose_backend(settings)
    batches = taskspec.batches(len(manifest), settings["batch_size"])
    spec_base = taskspec.task_spec(settings, manifest_path, data_dir)
    deadline = time.monotonic() + settings["timeout_s"]  # cluster start-up counts too
    _clear_for_a_new_run(settings, out)
    storage = coldrun.RepeatStorage.prepare(settings, manifest_path, manifest, data_dir, staging)
    return PhaseJob(
        settings,
        manifest,
        data_dir,
        staging,
        out,
        backend,
        batches,
        spec_base,
        deadline,
        storage,
        started_at,
    )


def finish(job: PhaseJob, cluster_record, done, measured, sampler, dask_report, dedup, extra=None):
    """run.json from what ran, with the other outputs written first (run.json last)."""
    settings, manifest = job.settings, job.manifest
    files = done.last.frame(manifest, settings["analysis"])
    measured_keys = _measured(settings, *measured, done, sampler)
    measured_keys["summary"].update(job.storage.summary(done.records))
    corpus = _corpus_record(settings, manifest, job.spec_base, job.staging)
    result = {
        "phase": settings["name"],
        "status": done.status,
        "settings": settings,
        "backend": job.backend,
        "cluster": cluster_record,
        "hardware": machine.hardware(sampler.nvml),
        "packages": machine.packages(),
        "corpus": {**corpus, **_storage(job.data_dir)},
        "staging": job.staging,
        "listing": job.storage.listed,
        "batches": len(job.batches),
        "repeats": done.records,
        "summary": {**_summary(done.records, files), **measured_keys.pop("summary")},
        **measured_keys,
        **_faults(done, job.spec_base),
        "dask_report": dask_report,
        "slurm": slurm.allocation(),  # the Slurm job this step ran in, if any
        **({"dedup": dedup} if dedup else {}),
        **(extra or {}),
        "started_at": job.started_at,
        "finished_at": time.time(),
    }
    _write_outputs(job.out, files, done.batch_rows, sampler, result)
    return result


def _clear_for_a_new_run(settings: dict, out: Path) -> None:
    """Before anything starts: a missing dependency of dask_report fails now, not after the
    repeats; an earlier run's outputs go (validation.json too: it judged the old run), and
    so do TLS certificates a killed run left."""
    if settings.get("dask_report"):
        daskreport.check_available()
    atomic.remove_outputs(out, (*OUTPUTS, *OPTIONAL_OUTPUTS, "validation.json"))
    security.remove_stale(out)


def _run_on(
    info,
    settings: dict,
    spec_base: dict,
    batches: list,
    staging: dict | None,
    *,
    files: int,
    deadline: float,
    out: Path,
    backend: dict,
    storage: coldrun.RepeatStorage | None = None,
):
    """Warm-up, timed repeats (with the floor's) and the optional Dask report on a started
    cluster; with worker_staging, each worker first copies its own batches (and removes
    them after). Returns (repeats, dask report record, staging record, (repeat context,
    timed series' results, the floor's (threads, why)))."""
    placement = None
    try:
        if settings.get("worker_staging"):  # each worker copies its own batches
            placement, staging = worker_staging.stage(info.client, spec_base, batches, settings)
        spec_base["device"] = info.device
        _warm_workers(info, spec_base["manifest"])
        ctx = repeats.RepeatContext(
            info.client,
            spec_base,
            batches,
            files,
            settings,
            deadline,
            scheduler_log.SchedulerLog(info.client),
            placement=placement,
            storage=storage,
        )
        done, timed, floor_plan = _run_repeats(ctx, backend, info, _ramdisk_root(staging))
        if not done.records:  # cannot happen unless there are no files (the schema forbids it)
            raise RuntimeError(f"phase {settings['name']}: no repeat ran")
        return done, _dask_report(ctx, done, out), staging, (ctx, timed, floor_plan)
    finally:
        if placement is not None:
            placement.remove(info.client)


def _dask_report(ctx: repeats.RepeatContext, done: repeats.PhaseRepeats, out: Path):
    """With dask_report: true, one more repeat after the timed ones, under Dask's
    performance report; its results are not kept (they are not timed figures). None
    without dask_report, or when the phase already timed out."""
    if not ctx.settings.get("dask_report") or done.status != "ok":
        return None
    r = len(done.records)  # its own task keys, after every recorded repeat
    # per pass: a time-based repeat is several passes, the extra repeat one
    timed = rounds.pass_seconds(done.records)
    out.mkdir(parents=True, exist_ok=True)
    rec = daskreport.untimed_repeat(lambda: repeats.run_repeat(ctx, r, True)[0], out, timed)
    print(
        f"  {ctx.settings['name']} Dask performance report: {out / rec['file']} "
        f"(untimed extra repeat {rec['repeat_wall_s']:.3f} s, "
        f"{rec['repeat_slowdown_pct']:+.0f} % vs the timed median; collecting it "
        f"{rec['collect_s']:.2f} s)",
        file=sys.stderr,
    )
    return rec


def _find_duplicates(client, results, manifest, settings: dict, data_dir: str, out: Path):
    """``full`` only, after the timing: writes duplicates.parquet (before run.json) and
    returns run.json ``dedup``; None below ``full``, and when a benchmark runs the step
    apart (settings ``defer_duplicates``, set by bench/full_cpu_vs_gpu.py)."""
    if settings["analysis"] != "full" or results.signature is None:
        return None
    if settings.get("defer_duplicates"):
        return None
    from filerate.dedup.find import find_duplicates

    frame, record = find_duplicates(client, results, manifest, settings["minhash"], data_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_parquet(out / DUPLICATES, frame)
    return record


def _ramdisk_root(staging: dict | None) -> str | None:
    """The RAM disk the sampler watches: only where the phase staged its corpus."""
    return staging.get("ramdisk_root") if staging and staging.get("staged") else None


def _warm_workers(info: cluster.ClusterInfo, manifest: str) -> None:
    """Compile the kernels and load the path table on every worker, before any timing."""
    t0 = time.perf_counter()
    print(
        f"  cluster up in {fmt.seconds(info.record.get('startup_s'))}; compiling the kernels "
        "and loading the path table on each worker",
        file=sys.stderr,
        flush=True,
    )
    warm = info.client.run(tasks.warm_worker, info.device, manifest)
    info.record["kernel_warmup_s"] = time.perf_counter() - t0
    print(f"  kernels ready in {fmt.seconds(info.record['kernel_warmup_s'])}", file=sys.stderr)
    info.record["kernel_compile_s_per_worker"] = {k: v["cpu_kernels_s"] for k, v in warm.items()}
    info.record["worker_cpus"] = {k: v["cpus"] for k, v in warm.items()}


def _run_repeats(ctx, backend: dict, info: cluster.ClusterInfo, ramdisk: str | None):
    """The warm-up, then the timed repeats (with the floor's) unless the warm-up timed out:
    (what ran, the timed series' results, the floor's (threads, why))."""
    done = repeats.PhaseRepeats()
    repeats.run_warmup(ctx, done)
    floor_plan = measurement.floor_plan(ctx.settings, backend, info.record)
    timed = (None, None, None, [])
    if done.status == "ok":
        timed = measurement.run_timed(ctx, done, ctx.settings, floor_plan[0], ramdisk)
    return done, timed, floor_plan


def _measured(settings, ctx, timed, floor_plan, done, sampler) -> dict:
    """run.json's keys from the timed repeats: the CI rule's summary keys, the floor (or
    why not), latency percentiles, what else used the CPU, the soak and the round order."""
    series, floor_rec, intervals, order = timed
    threads, why = floor_plan
    summary = measurement.summary(series, floor_rec) if series else {"stop_reason": "timeout"}
    summary["repeat_mode"] = measurement.repeat_mode(settings)
    summary["min_repeat_s"] = measurement.stopping_rule(settings)[1]
    cpus = settings["resolved"]["cpu_count"]
    summary["interference"] = measurement.interference(sampler, done.records, cpus)
    floor_out = floor_rec or {"measured": False, "reason": why}
    if floor_rec:
        floor_out = {"measured": True, "reason": why, **floor_rec}
    return {
        "summary": summary,
        "floor": floor_out,
        "latency": measurement.latency_summary(ctx),
        "soak": measurement.soak_record(intervals),
        "rounds": [f"{r}:{name}" for r, name in order],
    }


def _corpus_record(settings: dict, manifest: pd.DataFrame, spec: dict, staging) -> dict:
    return {
        "name": settings["corpus"],
        "files": len(manifest),
        "bytes": int(manifest["bytes"].sum()),
        "manifest": spec["manifest"],
        "data_dir": spec["data_dir"],
        "staged": bool(staging and staging.get("staged")),
    }


def _storage(data_dir: str) -> dict:
    """The block device and filesystem the repeats read."""
    return {"device": disk.block_device(data_dir), "fs_type": disk.mount_of(data_dir).fs_type}


def _faults(done: repeats.PhaseRepeats, spec_base: dict) -> dict:
    """run.json's record of what went wrong: errors by kind, lost workers, timed-out files,
    and the fault a test injected (if any)."""
    return {
        "errors_by_reason": done.last.errors_by_kind(),
        "lost_workers": done.lost_workers,
        "timed_out_files": int((done.last.status == FileStatus.TIMED_OUT).sum()),
        "test_fault": spec_base.get("_test_fault"),
    }


def _summary(records: list[dict], files: pd.DataFrame) -> dict:
    """run.json ``summary``: files/s over the timed repeats (the warm-up's if none
    finished); retries and failures over all repeats, so faults are not averaged away."""
    timed = [r for r in records if not r["warmup"]] or records
    fps = [r["files_per_s"] for r in timed]
    return {
        "repeats": len(timed),
        "files_per_s_median": statistics.median(fps),
        "files_per_s_min": min(fps),
        "files_per_s_max": max(fps),
        "files_per_s_cv_pct": cv_pct(fps) or 0.0,  # 0 for one repeat
        "wall_s_median": statistics.median(r["wall_s"] for r in timed),
        "mb_per_s_median": statistics.median(r["mb_per_s"] for r in timed),
        "files_ok": int((files["status"] == "ok").sum()),
        "files_error": int((files["status"] == "error").sum()),
        "retries": sum(r["retries"] or 0 for r in records),
        "retried_tasks": sum(r["retried_tasks"] or 0 for r in records),
        "failed_tasks": sum(r["failed_tasks"] for r in records),
    }


def _write_outputs(out: Path, files, batch_rows, sampler, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_parquet(out / "files.parquet", files)
    batches = pd.DataFrame([row.to_dict() for row in batch_rows], columns=BATCH_COLUMNS)
    atomic.write_parquet(out / "batches.parquet", batches)
    atomic.write_parquet(out / "resources.parquet", sampler.frame())
    atomic.write_json(out / "run.json", result)  # last: its presence means the phase finished
