"""`filerate process`: run one phase on a Dask cluster and record everything measured.

Start-up (cluster + kernel compilation) is timed apart from processing. After the
warm-up runs, each timed repeat submits one task per batch and is timed from the first
submit to the last result received and placed. Every file of the manifest ends each
repeat as ok or as an error with a reason; outputs are described in docs/DATA.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from filerate import atomic
from filerate.engine import cluster, machine, monitor, slurm, tasks, worker_staging, worker_stats
from filerate.errors import UserError
from filerate.reference import TYPES

UNSET = -1  # status of a file no result has reached yet
BATCH_FAILED, TIMED_OUT = 6, 7  # statuses set here (1-5: filerate.engine.batchio)
#: JSON of a fault to inject into every task (tests only: docs/RELIABILITY.md)
TEST_FAULT_ENV = "FILERATE_TEST_FAULT"


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
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_phase(settings, args.manifest, args.data_dir, staging, Path(args.out))
    finally:
        signal.signal(signal.SIGTERM, previous)
    s = result["summary"]
    print(
        f"phase {settings['name']}: {s['files_per_s_median']:,.0f} files/s median over "
        f"{s['repeats']} repeats ({result['backend']['used']}, "
        f"{result['cluster']['processes']} x {result['cluster']['threads_per_process']} threads); "
        f"{s['files_ok']} ok, {s['files_error']} in error",
        file=sys.stderr,
    )
    if s["retries"] or result["lost_workers"]:
        print(
            f"phase {settings['name']}: {len(result['lost_workers'])} worker(s) lost, "
            f"{s['retries']} batch attempt(s) retried, {s['failed_tasks']} batch(es) failed "
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


def injected_fault(settings: dict) -> dict | None:
    """The fault to inject (tests only): settings' ``_test_fault`` or $FILERATE_TEST_FAULT."""
    fault = settings.get("_test_fault")
    if fault is None and os.environ.get(TEST_FAULT_ENV):
        fault = json.loads(os.environ[TEST_FAULT_ENV])
    return fault


def run_phase(
    settings: dict, manifest_path: str, data_dir: str, staging: dict | None, out: Path
) -> dict:
    manifest = pd.read_parquet(manifest_path, columns=["path", "path_raw", "bytes"])
    n = len(manifest)
    started_at = time.time()
    backend = cluster.choose_backend(settings)
    ramdisk_root = staging.get("ramdisk_root") if staging and staging.get("staged") else None
    batches = [(i, min(i + settings["batch_size"], n)) for i in range(0, n, settings["batch_size"])]
    spec_base = {
        "phase": settings["name"],
        "manifest": str(Path(manifest_path).resolve()),
        "data_dir": str(Path(data_dir).resolve()),
        "analysis": settings["analysis"],
        "max_file_bytes": settings["max_file_bytes"],
        "gpu_budget_bytes": int(settings["gpu_memory_per_worker_gb"] * cluster.GB),
    }
    fault = injected_fault(settings)
    if fault:
        spec_base["_test_fault"] = fault
        print(f"filerate process: warning: injecting a test fault: {fault}", file=sys.stderr)
    repeats, batch_rows, lost_workers = [], [], []
    last = None
    status = "ok"
    deadline = time.monotonic() + settings["timeout_s"]
    _clear_old_outputs(out)
    placement = None
    with monitor.Sampler(ramdisk_root) as sampler:
        info = cluster.start(settings, backend)
        try:
            if settings.get("worker_staging"):  # each worker copies its own batches
                placement, staging = worker_staging.stage(info.client, spec_base, batches, settings)
            spec_base["device"] = info.device
            t0 = time.perf_counter()
            warm = info.client.run(tasks.warm_worker, info.device, spec_base["manifest"])
            info.record["kernel_warmup_s"] = time.perf_counter() - t0
            info.record["kernel_compile_s_per_worker"] = {
                k: v["cpu_kernels_s"] for k, v in warm.items()
            }
            events = _EventCursor(info.client)
            total = settings["warmup"] + settings["repeats"]
            for r in range(total):
                warmup = r < settings["warmup"]
                label = (
                    "warm-up"
                    if warmup
                    else f"repeat {r - settings['warmup'] + 1}/{settings['repeats']}"
                )
                rec, rows, arrays = _run_repeat(
                    info.client,
                    spec_base,
                    batches,
                    n,
                    r,
                    warmup,
                    settings,
                    deadline,
                    events,
                    placement,
                )
                rec["label"] = label
                rec["bytes_ok"] = int(arrays["bytes"][arrays["status"] == 0].sum())
                rec["mb_per_s"] = rec["bytes_ok"] / 1e6 / rec["wall_s"] if rec["wall_s"] else 0.0
                repeats.append(rec)
                batch_rows.extend(rows)
                lost_workers.extend({"repeat": r, **w} for w in rec["lost_workers"])
                print(
                    f"  {settings['name']} {label}: {rec['files_per_s']:,.0f} files/s "
                    f"({rec['files_ok']} ok, {rec['files_error']} errors, {rec['wall_s']:.3f} s)",
                    file=sys.stderr,
                )
                if not warmup or last is None:
                    last = arrays
                if rec["timed_out"]:
                    status = "timeout"
                    break
        finally:
            if placement is not None:
                placement.remove(info.client)
            info.close()
    if not repeats:  # nothing ran: cannot happen unless total is 0 (the schema forbids it)
        raise RuntimeError(f"phase {settings['name']}: no repeat ran")
    timed = [r for r in repeats if not r["warmup"]] or repeats
    fps = [r["files_per_s"] for r in timed]
    files = _files_frame(manifest, last, settings["analysis"])
    errors_by_reason = (
        files.loc[files["status"] == "error", "error"]
        .str.split(":")
        .str[0]
        .value_counts()
        .to_dict()
    )
    result = {
        "phase": settings["name"],
        "status": status,
        "settings": settings,
        "backend": backend,
        "cluster": info.record,
        "hardware": machine.hardware(sampler.nvml),
        "packages": machine.packages(),
        "corpus": {
            "name": settings["corpus"],
            "files": n,
            "bytes": int(manifest["bytes"].sum()),
            "manifest": spec_base["manifest"],
            "data_dir": spec_base["data_dir"],
            "staged": bool(staging and staging.get("staged")),
        },
        "staging": staging,
        "batches": len(batches),
        "repeats": repeats,
        "summary": {
            "repeats": len(timed),
            "files_per_s_median": statistics.median(fps),
            "files_per_s_min": min(fps),
            "files_per_s_max": max(fps),
            "files_per_s_cv_pct": (statistics.pstdev(fps) / statistics.mean(fps) * 100)
            if len(fps) > 1 and statistics.mean(fps)
            else 0.0,
            "wall_s_median": statistics.median(r["wall_s"] for r in timed),
            "mb_per_s_median": statistics.median(r["mb_per_s"] for r in timed),
            "files_ok": int((files["status"] == "ok").sum()),
            "files_error": int((files["status"] == "error").sum()),
            # over all repeats, warm-up included: faults are not averaged away
            "retries": sum(r["retries"] or 0 for r in repeats),
            "retried_tasks": sum(r["retried_tasks"] or 0 for r in repeats),
            "failed_tasks": sum(r["failed_tasks"] for r in repeats),
        },
        "errors_by_reason": errors_by_reason,
        "lost_workers": lost_workers,
        "timed_out_files": int((last["status"] == TIMED_OUT).sum()),
        "test_fault": fault,
        "slurm": slurm.allocation(),  # the Slurm job this step ran in, if any
        "started_at": started_at,
        "finished_at": time.time(),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_parquet(out / "files.parquet", files)
    atomic.write_parquet(out / "batches.parquet", pd.DataFrame(batch_rows))
    atomic.write_parquet(out / "resources.parquet", sampler.frame())
    atomic.write_json(out / "run.json", result)  # last: its presence means the phase finished
    return result


#: what a phase directory holds; run.json (written last) means the rest is complete
OUTPUTS = ("run.json", "files.parquet", "batches.parquet", "resources.parquet")


def _clear_old_outputs(out: Path) -> None:
    """Remove an earlier run's outputs (run.json first) and any temporary file a killed
    write left, so an interrupted rerun never leaves old and new files side by side.
    validation.json goes too: it judged the old run."""
    if not out.is_dir():
        return
    for name in (*OUTPUTS, "validation.json"):
        (out / name).unlink(missing_ok=True)
    for name in (*OUTPUTS, "validation.json"):
        for tmp in out.glob(f".{name}.*.tmp"):  # atomic.atomic_path's temporary names
            tmp.unlink(missing_ok=True)


class _EventCursor:
    """Workers the scheduler removed (unexpectedly) or added since the last look, from its
    "all" event log; where that log cannot be read, from the worker sets before and after."""

    def __init__(self, client):
        self.client = client
        events = self._events()
        self.seen = max((t for t, _ in events or ()), default=float("-inf"))
        self.workers = self._workers()

    def _events(self):
        try:
            return list(self.client.get_events("all"))
        except Exception:  # an old or unreachable scheduler
            return None

    def _workers(self) -> set[str]:
        try:
            return set(cluster.worker_info(self.client))
        except Exception:
            return set()

    def since_last(self) -> tuple[list[dict], list[str]]:
        events = self._events()
        if events is None:
            now = self._workers()
            lost = [
                {"worker": w, "time": None, "tasks_processing": None}
                for w in sorted(self.workers - now)
            ]
            joined, self.workers = sorted(now - self.workers), now
            return lost, joined
        lost, joined = [], []
        for t, ev in events:
            if t <= self.seen or not isinstance(ev, dict):
                continue
            self.seen = max(self.seen, t)
            if ev.get("action") == "remove-worker" and not ev.get("expected"):
                lost.append(
                    {
                        "worker": ev.get("worker"),
                        "time": t,
                        "tasks_processing": len(ev.get("processing-tasks") or ()),
                    }
                )
            elif ev.get("action") == "add-worker":
                joined.append(ev.get("worker"))
        return lost, joined


def _attempts(client, keys: list[str]) -> dict[str, int] | None:
    """How many times the scheduler started each task, from its transition log.

    A task is started again after its worker died (up to task_retries times, then
    KilledWorker) or after it raised (task_retries times). None when the scheduler's
    log cannot be read; a key missing from the log (a log shorter than the repeat) gets 0.
    """
    try:
        story = client.sync(client.scheduler.get_story, keys_or_stimuli=list(keys))
    except Exception:
        return None
    wanted = set(keys)
    counts = dict.fromkeys(keys, 0)
    for t in story:
        if t[0] in wanted and t[2] == "processing":
            counts[t[0]] += 1
    return counts


def _run_repeat(
    client, spec_base, batches, n, r, warmup, settings, deadline, events, placement=None
):
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]  # unique keys: Dask must not reuse an earlier repeat's result
    arrays = {
        "status": np.full(n, UNSET, dtype=np.int8),
        "bytes": np.zeros(n, dtype=np.int64),
        "hash": np.zeros(n, dtype=np.uint64),
        "lines": np.zeros(n, dtype=np.int64),
        "words": np.zeros(n, dtype=np.int64),
        "non_ascii": np.zeros(n, dtype=np.int64),
        "type": np.zeros(n, dtype=np.int8),
        "reasons": {},
    }
    rows, failed, timed_out = [], [], False
    start_epoch = time.time()
    t0 = time.perf_counter()
    # one message for the whole repeat: the scheduler sees every batch at once and queues
    # them (one task per free thread) rather than spreading the first few blindly
    keys = [f"analyse-{settings['name']}-r{r}-b{b}-{token}" for b in range(len(batches))]
    submitted = time.time()
    specs = [{**spec_base, "start": lo, "stop": hi} for lo, hi in batches]
    if placement is not None:  # per-worker staging: each batch only where its files are
        futures = placement.map(client, tasks.analyse_batch, specs, keys, settings["task_retries"])
    else:
        futures = client.map(
            tasks.analyse_batch, specs, key=keys, pure=False, retries=settings["task_retries"]
        )
    meta = {
        k: (b, lo, hi, submitted) for b, (k, (lo, hi)) in enumerate(zip(keys, batches, strict=True))
    }
    pending = set(meta)
    try:
        for fut in as_completed(futures, timeout=max(1.0, deadline - time.monotonic())):
            b, lo, hi, submitted = meta[fut.key]
            pending.discard(fut.key)
            try:
                res = fut.result()
            except Exception as exc:  # the batch failed on every attempt (e.g. KilledWorker)
                failed.append(fut.key)
                arrays["status"][lo:hi] = BATCH_FAILED
                detail = str(exc).splitlines()[0] if str(exc) else ""
                reason = f"batch failed: {type(exc).__name__}: {detail}"
                arrays["reasons"].update({i: reason for i in range(lo, hi)})
                continue
            _place(arrays, res)
            rows.append(_batch_row(res, r, warmup, b, fut.key, submitted))
    except TimeoutError:
        timed_out = True
        for key in pending:
            b, lo, hi, _ = meta[key]
            arrays["status"][lo:hi] = TIMED_OUT
            arrays["reasons"].update(
                {
                    i: f"timeout: phase passed timeout_s={settings['timeout_s']:g} "
                    "before this batch finished"
                    for i in range(lo, hi)
                }
            )
        client.cancel([f for f in futures if f.key in pending])
    wall = time.perf_counter() - t0
    stop_epoch = time.time()
    # after the timed window: what the scheduler saw of retries and lost workers
    attempts = _attempts(client, list(meta))
    lost, joined = events.since_last()
    for row in rows:
        row["attempts"] = (attempts or {}).get(row["key"]) or None  # 0: not in the log
    unset = arrays["status"] == UNSET
    if unset.any():  # cannot happen unless a result went missing: account for it loudly
        arrays["status"][unset] = BATCH_FAILED
        arrays["reasons"].update(
            {int(i): "lost: no result came back" for i in np.flatnonzero(unset)}
        )
    ok = int((arrays["status"] == 0).sum())
    retried = {k: a for k, a in (attempts or {}).items() if a > 1}
    rec = {
        "repeat": r,
        "warmup": warmup,
        "start": start_epoch,
        "stop": stop_epoch,
        "wall_s": wall,
        "files_ok": ok,
        "files_error": n - ok,
        "files_per_s": ok / wall if wall > 0 else 0.0,
        "tasks": len(batches),
        # tasks started more than once, and the extra starts (null: scheduler log unread)
        "retried_tasks": len(retried) if attempts is not None else None,
        "retries": sum(a - 1 for a in retried.values()) if attempts is not None else None,
        "retried_batches": sorted(meta[k][0] for k in retried),
        "failed_tasks": len(failed),
        "failed_batches": sorted(meta[k][0] for k in failed),
        "timed_out": timed_out,
        "lost_workers": lost,
        "joined_workers": joined,
        "per_worker": worker_stats.per_worker(rows, start_epoch),
    }
    return rec, rows, arrays


def _place(arrays: dict, res: dict) -> None:
    lo, hi = res["start"], res["stop"]
    arrays["status"][lo:hi] = res["status"]
    arrays["bytes"][lo:hi] = res["bytes"]
    arrays["hash"][lo:hi] = res["hash"]
    if res["lines"] is not None:
        arrays["lines"][lo:hi] = res["lines"]
        arrays["words"][lo:hi] = res["words"]
        arrays["non_ascii"][lo:hi] = res["non_ascii"]
        arrays["type"][lo:hi] = res["type"]
    for i, reason in res["reasons"].items():
        arrays["reasons"][lo + i] = reason


def _batch_row(res: dict, r: int, warmup: bool, b: int, key: str, submitted: float) -> dict:
    ok = res["status"] == 0
    return {
        "repeat": r,
        "warmup": warmup,
        "batch": b,
        "key": key,
        "worker": res["worker"],
        "pid": res["pid"],
        "thread": res["thread"],
        "device": res["device"],
        "submitted": submitted,
        "start": res["t_start"],
        "stop": res["t_stop"],
        "received": time.time(),
        "files": len(res["status"]),
        "bytes": int(res["bytes"][ok].sum()),
        "errors": int((~ok).sum()),
        **{k: float(v) for k, v in res["timing"].items()},
    }


def _files_frame(manifest: pd.DataFrame, arrays: dict, level: str) -> pd.DataFrame:
    ok = arrays["status"] == 0
    reasons = pd.Series(arrays["reasons"], dtype="object")
    error = pd.Series([None] * len(manifest), dtype="object")
    if len(reasons):
        error.iloc[reasons.index.to_numpy()] = reasons.to_numpy()
    frame = pd.DataFrame(
        {
            "path": manifest["path"],
            "path_raw": manifest["path_raw"],
            "status": np.where(ok, "ok", "error"),
            "error": error,
            "bytes": pd.array(np.where(ok, arrays["bytes"], 0), dtype="Int64"),
            "xxh3": pd.Series([f"{h:016x}" for h in arrays["hash"].tolist()], dtype="object"),
        }
    )
    frame.loc[~ok, ["bytes", "xxh3"]] = None
    light = level == "light"
    for col in ("lines", "words", "non_ascii"):
        frame[col] = (
            pd.array(arrays[col], dtype="Int64")
            if light
            else pd.array([None] * len(frame), dtype="Int64")
        )
    types = np.asarray(TYPES, dtype=object)[arrays["type"]]
    frame["binary"] = (
        pd.array(arrays["type"] == TYPES.index("binary"), dtype="boolean")
        if light
        else pd.array([None] * len(frame), dtype="boolean")
    )
    frame["type"] = pd.Series(types, dtype="object") if light else None
    if light:
        frame.loc[~ok, ["lines", "words", "non_ascii", "binary", "type"]] = None
    return frame
