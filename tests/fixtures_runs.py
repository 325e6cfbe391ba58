"""Build synthetic phase directories (docs/DATA.md) whose right answers are known.

``build_phase`` simulates a Dask run: ``ceil(files / batch_size)`` tasks are handed, in
order, to the thread slot that frees up first; each task starts ``gap_s`` after its slot
became free (the scheduler's dispatch gap) and lasts ``task_s`` (scaled by the batch's
share of ``batch_size`` and the repeat's ``repeat_scale``). Its time is split into the
recorded components by ``split``; the rest of the task is per-task overhead. The repeat's
wall time runs from its start to the last task's stop plus one gap. The resource sampler
is simulated at 5 Hz (or faster for short repeats) with ``cpu_pct`` and ``ctx_per_s``
inside the repeat windows and a quiet machine outside them.

The named builders (``io_bound``, ``oversubscribed``, ``scheduler_bound``,
``too_few_batches``) are the canonical cases the tests check verdicts on.
"""

from __future__ import annotations

import heapq
import json
import math
import statistics
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from filerate.units import GIB, MB, gib_to_bytes

T0 = 1_700_000_000.0
DEFAULT_SPLIT = {"read_s": 0.45, "hash_s": 0.2, "analyse_s": 0.25, "pack_s": 0.05}
#: the components every task records, in batches.parquet's order
COMPONENTS = ("read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s", "pack_s")


def _schedule(n_tasks, slots, durations, gap_s, start):
    """Greedy list scheduling; returns per task (slot, start, stop) and the repeat stop."""
    heap = [(start, s) for s in range(slots)]
    heapq.heapify(heap)
    out = []
    for i in range(n_tasks):
        free, slot = heapq.heappop(heap)
        a = free + gap_s
        b = a + durations[i]
        out.append((slot, a, b))
        heapq.heappush(heap, (b, slot))
    last = max((b for _, _, b in out), default=start)
    return out, last + gap_s


@dataclass(frozen=True)
class PhaseSpec:
    """What a simulated phase looks like (see the module docstring)."""

    corpus: str = "small"
    corpus_files: int = 10_000
    corpus_bytes: int = 128_000_000
    batch_size: int = 1000
    cpu_count: int = 2
    processes: int = 2
    threads_per_process: int = 6
    workers_expr: str | int | None = None
    warmup: int = 1
    repeats: int = 3
    task_s: float = 0.5
    gap_s: float = 0.002
    split: dict | None = None
    repeat_scale: list[float] | None = None
    cpu_pct: float = 60.0
    ctx_per_s: float = 2_000.0
    startup_s: float = 1.0
    kernel_warmup_s: float | None = None  # None: not recorded (runs before it was)
    staged: bool = True
    staging_s: float = 0.5
    occupied_bytes: int | None = None
    ramdisk_budget_gb: float | None = None
    ramdisk_growth_bytes: int = 0
    target: float | None = None
    gate: float | None = None
    backend: str = "cpu"
    gpus: int = 0
    gpu_util: float = 50.0
    analysis: str = "light"
    gpu_memory_per_worker_gb: float = 0.5
    files_error: int = 0
    mismatches: int = 0
    ablation: dict | None = None
    status: str = "ok"

    @property
    def slots(self) -> int:
        return self.processes * self.threads_per_process

    @cached_property
    def files_per_task(self) -> list[int]:
        n_tasks = math.ceil(self.corpus_files / self.batch_size)
        return [
            min(self.batch_size, self.corpus_files - i * self.batch_size) for i in range(n_tasks)
        ]

    @property
    def bytes_per_file(self) -> float:
        return self.corpus_bytes / self.corpus_files

    @property
    def occupied(self) -> int:
        given = self.occupied_bytes
        return int(given if given is not None else self.corpus_bytes * 1.05)


# ---- batches.parquet and run.json repeats: the simulated Dask run ------------------------


def _batch_row(spec: PhaseSpec, r: int, b: int, placed: tuple, split: dict) -> dict:
    slot, a, z = placed
    dur = z - a
    proc, thr = divmod(slot, spec.threads_per_process)
    files = spec.files_per_task[b]
    row = {
        "repeat": r,
        "warmup": r < spec.warmup,
        "batch": b,
        "key": f"batch-{r}-{b}",
        "worker": f"tcp://127.0.0.1:{40000 + proc}",
        "pid": 5000 + proc,
        "thread": 140_000 + thr,
        "start": a,
        "stop": z,
        "files": files,
        "bytes": int(files * spec.bytes_per_file),
        "errors": 0,
        "device": "gpu:0" if spec.backend == "gpu" else "cpu",
    }
    for comp in (*COMPONENTS, *(c for c in split if c not in COMPONENTS)):
        row[comp] = dur * split.get(comp, 0.0)
    return row


def _repeat_record(spec: PhaseSpec, r: int, start: float, stop: float) -> dict:
    wall = stop - start
    ok = spec.corpus_files - spec.files_error
    return {
        "repeat": r,
        "warmup": r < spec.warmup,
        "start": start,
        "stop": stop,
        "wall_s": wall,
        "files_ok": ok,
        "files_error": spec.files_error,
        "bytes_ok": int(ok * spec.bytes_per_file),
        "files_per_s": ok / wall,
        "mb_per_s": ok * spec.bytes_per_file / MB / wall,
        "tasks": len(spec.files_per_task),
        "retried_tasks": 0,
        "failed_tasks": 0,
    }


def _simulate(spec: PhaseSpec) -> tuple[list[dict], list[dict], list[tuple], float]:
    """Every repeat's tasks (batches.parquet rows), the repeat records, the repeat
    windows and the time the phase ended."""
    split = dict(DEFAULT_SPLIT if spec.split is None else spec.split)
    repeat_scale = list(spec.repeat_scale or [1.0] * spec.repeats)
    assert len(repeat_scale) == spec.repeats
    t = T0 + spec.startup_s
    rows, reps, windows = [], [], []
    for r in range(spec.warmup + spec.repeats):
        scale = 1.3 if r < spec.warmup else repeat_scale[r - spec.warmup]
        durations = [spec.task_s * scale * f / spec.batch_size for f in spec.files_per_task]
        placed, stop = _schedule(len(durations), spec.slots, durations, spec.gap_s, t)
        rows += [_batch_row(spec, r, b, task, split) for b, task in enumerate(placed)]
        reps.append(_repeat_record(spec, r, t, stop))
        windows.append((t, stop))
        t = stop + 0.1
    return rows, reps, windows, t


def _summary(spec: PhaseSpec, reps: list[dict]) -> dict:
    timed = [x for x in reps if not x["warmup"]]
    fps = [x["files_per_s"] for x in timed]
    return {
        "repeats": len(timed),
        "files_per_s_median": statistics.median(fps),
        "files_per_s_min": min(fps),
        "files_per_s_max": max(fps),
        "files_per_s_cv_pct": (
            statistics.pstdev(fps) / statistics.fmean(fps) * 100 if len(fps) > 1 else None
        ),
        "wall_s_median": statistics.median(x["wall_s"] for x in timed),
        "mb_per_s_median": statistics.median(x["mb_per_s"] for x in timed),
        "files_ok": timed[-1]["files_ok"],
        "files_error": spec.files_error,
    }


# ---- resources.parquet: the sampler -------------------------------------------------------


def _resources(spec: PhaseSpec, windows: list[tuple], end: float) -> pd.DataFrame:
    """Samples from phase start to end; busy values inside the repeats, quiet outside."""
    shortest = min(b - a for a, b in windows)
    step = min(0.2, max(shortest / 6, 1e-3))
    ts = np.arange(T0, end + step, step)
    inside = np.zeros(len(ts), dtype=bool)
    # like psutil, CPU %, GPU utilisation and counters describe the interval before a sample
    frac = np.zeros(len(ts))
    for a, b in windows:
        inside |= (ts >= a) & (ts <= b)
        frac += np.clip(np.minimum(ts, b) - np.maximum(ts - step, a), 0, None) / step

    def mix(busy, quiet):
        return quiet + (busy - quiet) * np.clip(frac, 0, 1)

    cpu = mix(spec.cpu_pct, 5.0)
    rate = mix(spec.ctx_per_s, 100.0)
    ctx = np.concatenate([[0.0], np.cumsum(rate[1:] * np.diff(ts))]).astype(np.int64)
    ram_base = 1_000_000 + (spec.occupied if spec.staged else 0)
    ram = ram_base + np.where(inside, spec.ramdisk_growth_bytes, 0)
    res = {
        "t": ts,
        "cpu_pct": cpu,
        **{f"cpu{i}_pct": cpu for i in range(spec.cpu_count)},
        "mem_used_bytes": np.where(inside, 6e9, 4e9).astype(np.int64),
        "mem_available_bytes": np.where(inside, 10e9, 12e9).astype(np.int64),
        "tree_rss_bytes": np.full(len(ts), int(spec.processes * 2.5e8), dtype=np.int64),
        "ctx_switches": ctx,
        "ramdisk_used_bytes": ram.astype(np.int64),
    }
    for g in range(spec.gpus):
        res[f"gpu{g}_util_pct"] = mix(spec.gpu_util, 0.0)
        res[f"gpu{g}_mem_used_bytes"] = np.full(len(ts), int(2e9), dtype=np.int64)
        res[f"gpu{g}_temp_c"] = mix(65.0, 45.0)
        res[f"gpu{g}_power_w"] = mix(120.0, 20.0)
        res[f"gpu{g}_sm_clock_mhz"] = np.full(len(ts), 2400.0)
    return pd.DataFrame(res)


# ---- files.parquet, the staging record, run.json, validation.json --------------------------


def _files(spec: PhaseSpec) -> pd.DataFrame:
    n, errors = spec.corpus_files, spec.files_error
    return pd.DataFrame(
        {
            "path": [f"d{i // 100:03d}/f{i:06d}.py" for i in range(n)],
            "status": ["error" if i < errors else "ok" for i in range(n)],
            "error": ["unreadable" if i < errors else None for i in range(n)],
            "bytes": np.full(n, int(spec.bytes_per_file), dtype=np.int64),
        }
    )


def _staging(spec: PhaseSpec, name: str) -> dict:
    staged = spec.staged
    return {
        "phase": name,
        "corpus": spec.corpus,
        "staged": staged,
        "source_dir": f"results/corpus/{spec.corpus}/files",
        "staged_dir": f"/dev/shm/filerate-test/{name}" if staged else None,
        "ramdisk_root": "/dev/shm",
        "fs_type": "tmpfs",
        "is_tmpfs": True,
        "files": spec.corpus_files,
        "bytes": spec.corpus_bytes,
        "occupied_bytes": spec.occupied if staged else None,
        "budget_bytes": gib_to_bytes(spec.ramdisk_budget_gb) if spec.ramdisk_budget_gb else None,
        "available_memory_before": int(12e9),
        "seconds": spec.staging_s if staged else None,
        "files_per_s": spec.corpus_files / spec.staging_s if staged else None,
        "mb_per_s": spec.corpus_bytes / MB / spec.staging_s if staged else None,
        "failed": [],
        "warning": None,
    }


def _settings(spec: PhaseSpec, name: str) -> dict:
    workers = spec.workers_expr if spec.workers_expr is not None else spec.slots
    return {
        "corpus": spec.corpus,
        "backend": "auto",
        "address": None,
        "scheduler_file": None,
        "workers": workers,
        "processes": None,
        "batch_size": spec.batch_size,
        "gpu_memory_per_worker_gb": spec.gpu_memory_per_worker_gb,
        "analysis": spec.analysis,
        "staging": spec.staged,
        "ramdisk_budget_gb": spec.ramdisk_budget_gb,
        "warmup": spec.warmup,
        "repeats": spec.repeats,
        "timeout_s": 600,
        "task_retries": 2,
        "max_file_bytes": 268435456,
        "target_files_per_s": spec.target,
        "gate_files_per_s": spec.gate,
        "name": name,
        "ablation": spec.ablation,
        "resolved": {
            "expression": str(workers),
            "cpu_count": spec.cpu_count,
            "workers": spec.slots,
            "processes": spec.processes,
            "threads_per_process": spec.threads_per_process,
            "total_threads": spec.slots,
            "how": "worker count spread as threads over min(workers, cpu_count) processes",
        },
    }


def _cluster(spec: PhaseSpec) -> dict:
    return {
        "kind": "LocalCUDACluster" if spec.backend == "gpu" else "LocalCluster",
        "address": "tcp://127.0.0.1:8786",
        "workers": [
            {
                "name": str(p),
                "address": f"tcp://127.0.0.1:{40000 + p}",
                "nthreads": spec.threads_per_process,
                "pid": 5000 + p,
            }
            for p in range(spec.processes)
        ],
        "processes": spec.processes,
        "threads_per_process": spec.threads_per_process,
        "total_threads": spec.slots,
        "startup_s": spec.startup_s,
        **({"kernel_warmup_s": spec.kernel_warmup_s} if spec.kernel_warmup_s is not None else {}),
    }


def _run_json(spec: PhaseSpec, name: str, reps: list[dict], end: float) -> dict:
    staging = _staging(spec, name)
    return {
        "phase": name,
        "settings": _settings(spec, name),
        "backend": {
            "requested": "auto",
            "used": spec.backend,
            "reason": "no GPU: NVMLError_LibraryNotFound"
            if spec.backend == "cpu"
            else "GPU 0 usable",
            "gpu_probe": {},
        },
        "cluster": _cluster(spec),
        "hardware": {
            "cpu_model": "Test CPU <fast> & co",
            "cpu_count": spec.cpu_count,
            "memory_bytes": 16 * GIB,
            "gpus": [{"index": 0, "name": "Fake GPU"}] if spec.gpus else [],
        },
        "packages": {"python": "3.11.7", "dask": "2026.7.1", "distributed": "2026.7.1"},
        "corpus": {
            "name": spec.corpus,
            "files": spec.corpus_files,
            "bytes": spec.corpus_bytes,
            "data_dir": staging["staged_dir"] or staging["source_dir"],
            "staged": spec.staged,
        },
        "staging": staging,
        "repeats": reps,
        "summary": _summary(spec, reps),
        "errors_by_reason": {"unreadable": spec.files_error} if spec.files_error else {},
        "lost_workers": [],
        "status": spec.status,
        "started_at": T0,
        "finished_at": end,
    }


def _validation(spec: PhaseSpec, name: str) -> dict:
    errors, mismatches = spec.files_error, spec.mismatches
    return {
        "phase": name,
        "ok": errors == 0 and mismatches == 0,
        "manifest_files": spec.corpus_files,
        "files_ok": spec.corpus_files - errors,
        "files_error": errors,
        "missing": 0,
        "duplicated": 0,
        "unexpected": 0,
        "mismatches": mismatches,
        "mismatches_by_field": {"lines": mismatches} if mismatches else {},
        "errors_by_reason": {"unreadable": errors} if errors else {},
        "repeats_accounted": spec.warmup + spec.repeats,
        "examples": [{"path": "d000/f000001.py", "field": "lines", "expected": 3, "got": 4}]
        if mismatches
        else [],
    }


def build_phase(root, name: str, **settings) -> Path:
    """Write ``root/name`` with run.json, batches/resources/files.parquet and
    validation.json for a phase described by :class:`PhaseSpec` ``settings``."""
    spec = PhaseSpec(**settings)
    phase_dir = Path(root) / name
    phase_dir.mkdir(parents=True, exist_ok=True)
    rows, reps, windows, end = _simulate(spec)
    _resources(spec, windows, end).to_parquet(phase_dir / "resources.parquet", index=False)
    pd.DataFrame(rows).to_parquet(phase_dir / "batches.parquet", index=False)
    _files(spec).to_parquet(phase_dir / "files.parquet", index=False)
    (phase_dir / "run.json").write_text(json.dumps(_run_json(spec, name, reps, end), indent=2))
    (phase_dir / "validation.json").write_text(json.dumps(_validation(spec, name), indent=2))
    return phase_dir


# ---- canonical cases ----------------------------------------------------------------


def io_bound(root, name="io"):
    """Reads dominate task time; CPU far from saturated: storage I/O."""
    return build_phase(
        root,
        name,
        processes=2,
        threads_per_process=2,
        batch_size=500,
        task_s=0.4,
        gap_s=0.002,
        cpu_pct=25.0,
        ctx_per_s=3_000,
        split={"read_s": 0.85, "hash_s": 0.05, "analyse_s": 0.05, "pack_s": 0.02},
        staging_s=0.2,
        startup_s=0.5,
    )


def oversubscribed(root, name="oversub", **kw):
    """cpu_count 2, 44 threads, all busy, CPU saturated, many context switches."""
    args = dict(
        corpus_files=8_800,
        corpus_bytes=112_640_000,
        processes=2,
        threads_per_process=22,
        batch_size=100,
        task_s=2.0,
        gap_s=0.002,
        cpu_pct=99.0,
        ctx_per_s=60_000,
        staging_s=0.3,
        startup_s=2.0,
        workers_expr="cpu_count*6+32",
    )
    args.update(kw)
    return build_phase(root, name, **args)


def scheduler_bound(root, name="sched"):
    """Thousands of 2 ms tasks separated by 8 ms dispatch gaps."""
    return build_phase(
        root,
        name,
        corpus_files=4_000,
        corpus_bytes=40_000_000,
        batch_size=2,
        processes=2,
        threads_per_process=1,
        task_s=0.002,
        gap_s=0.008,
        cpu_pct=55.0,
        ctx_per_s=8_000,
        staging_s=0.1,
        startup_s=0.3,
        repeats=3,
        warmup=0,
    )


def too_few_batches(root, name="fewbatches"):
    """8 cores, 4 tasks for 24 thread slots: most slots idle, CPU half used."""
    return build_phase(
        root,
        name,
        corpus_files=20_000,
        batch_size=5_000,
        cpu_count=8,
        processes=2,
        threads_per_process=12,
        task_s=1.0,
        gap_s=0.002,
        cpu_pct=45.0,
        staging_s=0.2,
        startup_s=0.8,
    )


def _ablation(knob, frm, to) -> dict:
    """run.json ``settings.ablation`` of a variant of "baseline" taking turbo's value."""
    return {"base": "baseline", "knob": knob, "from": frm, "to": to, "value_of": "turbo"}


def ablation_set(root):
    """A baseline and one ablation variant per knob, with known measured changes.

    baseline: 10 tasks of 0.5 s on 12 slots. workers: 44 threads, tasks inflated to 0.8 s
    (about −37 %). batch_size: 2 tasks of 0.225 s (about +120 %). gpu memory on the CPU
    backend: unchanged. analysis: unstable, median about +10 %, range reaching +60 %.
    staging: read in place at the same speed.
    """
    common = dict(target=1000)
    return [
        build_phase(root, "baseline", workers_expr="cpu_count*2+8", **common),
        build_phase(
            root,
            "ablate-workers-turbo",
            processes=2,
            threads_per_process=22,
            workers_expr="cpu_count*6+32",
            task_s=0.8,
            cpu_pct=97.0,
            ablation=_ablation("workers", "cpu_count*2+8", "cpu_count*6+32"),
            **common,
        ),
        build_phase(
            root,
            "ablate-batch-turbo",
            batch_size=5000,
            task_s=0.225,
            workers_expr="cpu_count*2+8",
            ablation=_ablation("batch_size", 1000, 5000),
            **common,
        ),
        build_phase(
            root,
            "ablate-gpu-memory-turbo",
            gpu_memory_per_worker_gb=0.125,
            workers_expr="cpu_count*2+8",
            ablation=_ablation("gpu_memory_per_worker_gb", 0.5, 0.125),
            **common,
        ),
        build_phase(
            root,
            "ablate-analysis-turbo",
            analysis="minimal",
            workers_expr="cpu_count*2+8",
            repeat_scale=[1 / 1.1, 1 / 1.6, 1 / 0.9],
            ablation=_ablation("analysis", "light", "minimal"),
            **common,
        ),
        build_phase(
            root,
            "ablate-staging-turbo",
            staged=False,
            workers_expr="cpu_count*2+8",
            ablation=_ablation("staging", True, False),
            **common,
        ),
    ]


def run_cli(argv: list[str]) -> int:
    """Run ``filerate.cli.main(argv)``; while some workflow steps are not written yet,
    register only the step modules that import."""
    import importlib

    from filerate import cli

    saved = cli.STEPS
    usable = {}
    for step, module in saved.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        usable[step] = module
    cli.STEPS = usable
    try:
        return cli.main(argv)
    finally:
        cli.STEPS = saved


def phase_args(paths) -> list[str]:
    return [a for p in paths for a in ("--phase-dir", str(p))]
