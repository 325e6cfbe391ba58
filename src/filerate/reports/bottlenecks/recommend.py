"""The next change to make for a phase's limit, with its expected effect computed from the
phase's own measurements. Chosen by the limit's rule id (``rules.Verdict``), never by its
label for people."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from filerate import fmt
from filerate.reports.bottlenecks.rules import read_cause
from filerate.reports.load import Phase

#: the task length bigger batches aim for when dispatch overhead dominates, s
TARGET_TASK_S = 0.1


@dataclass(frozen=True)
class _Facts:
    """What a recommendation is computed from."""

    phase: Phase
    bd: dict
    cpu_count: int
    threads: int
    procs: int
    batch: int | None
    files: int | None
    cpu_mean: float | None
    conc: float
    secs: dict

    @property
    def e2e(self) -> float:
        return self.bd["end_to_end_s"]

    @property
    def wall(self) -> float:
        return self.bd["repeat_wall_s_mean"]


def _facts(phase: Phase, bd: dict, util: dict) -> _Facts:
    return _Facts(
        phase=phase,
        bd=bd,
        cpu_count=phase.cpu_count or 1,
        threads=phase.total_threads or 1,
        procs=phase.processes or 1,
        batch=int(phase.settings.get("batch_size") or 0) or None,
        files=int((phase.run.get("corpus") or {}).get("files") or 0) or None,
        cpu_mean=util.get("cpu_pct_mean"),
        conc=bd["concurrency"] or 0.0,
        secs={r["component"]: r["seconds"] for r in bd["rows"]},
    )


def _advice(change: str, settings: dict, expected: str) -> dict:
    return {"change": change, "settings": settings, "expected": expected}


# ---- one-off costs ---------------------------------------------------------------------


def _read_in_place(f: _Facts) -> dict:
    staging = f.secs["staging"]
    return _advice(
        "read the corpus in place (staging: false)",
        {"staging": False},
        f"one pass takes up to {fmt.num(staging, 2)} s less "
        f"({fmt.num(f.e2e, 2)} → {fmt.num(f.e2e - staging, 2)} s) if "
        "reading in place is as fast; confirm with the staging ablation",
    )


def _shorter_startup(f: _Facts) -> dict:
    startup = f.secs["startup"]
    if f.procs > f.cpu_count:
        return _advice(
            f"use at most cpu_count = {f.cpu_count} worker processes "
            f"(processes: {f.cpu_count}; now {f.procs})",
            {"processes": f.cpu_count},
            f"start-up ({fmt.num(startup, 2)} s now) shrinks "
            f"roughly in proportion to the process count "
            f"(≈ {fmt.num(startup * f.cpu_count / f.procs, 2)} s)",
        )
    return _advice(
        "start the cluster once and reuse it (an existing scheduler: "
        "address/scheduler_file), or process more files per run",
        {},
        f"up to {fmt.num(startup, 2)} s of {fmt.num(f.e2e, 2)} s per pass saved",
    )


# ---- CPU and scheduling ------------------------------------------------------------------


def _fewer_threads(f: _Facts) -> dict:
    return _advice(
        f"workers: cpu_count (= {f.cpu_count} threads) instead of {f.threads}",
        {"workers": "cpu_count"},
        f"about the same or higher files/s with tasks ~"
        f"{max(f.conc / f.cpu_count, 1):.0f}× shorter and far fewer context "
        f"switches: the {f.cpu_count} CPUs are already "
        f"{fmt.pct(f.cpu_mean)} busy, so more threads cannot add throughput",
    )


def _more_files_per_run(f: _Facts, useful: int) -> dict:
    """When batches cannot grow: the fixed Dask overhead per repeat must be amortised."""
    ideal = f.bd["ideal_makespan_s_mean"]
    over = max(f.wall - ideal, 0.0)
    now = f.files / f.wall if f.files and f.wall > 0 else None
    later = 10 * f.files / (10 * ideal + over) if f.files and (ideal or over) else None
    return _advice(
        "more files per run: batches cannot grow without starving "
        f"the {useful} usable slots, and {fmt.num(over * 1e3, 1)} ms of each "
        f"{fmt.num(f.wall * 1e3, 1)} ms repeat is fixed Dask overhead",
        {},
        f"with 10× the files the overhead is amortised: files/s up to "
        f"≈ {fmt.num(later)} (now {fmt.num(now)})",
    )


def _bigger_batches(f: _Facts) -> dict:
    med_task = f.bd["task_s_median"] or 0.0
    factor = max(2.0, TARGET_TASK_S / med_task) if med_task > 0 else 10.0
    new = math.ceil((f.batch or 1) * factor)
    useful = max(1, min(f.threads, f.cpu_count))
    if f.files:  # keep at least 2 tasks per usable slot
        new = min(new, max(1, math.ceil(f.files / (2 * useful))))
    k = new / (f.batch or 1)
    if k <= 1:
        return _more_files_per_run(f, useful)
    sched = f.secs["scheduling"]
    new_wall = f.wall - sched * (1 - 1 / k)
    gain = (f.wall / new_wall - 1) * 100 if new_wall > 0 else None
    return _advice(
        f"bigger batches: batch_size {f.batch} → {new} (tasks of "
        f"~{med_task * k * 1e3:.0f} ms instead of {med_task * 1e3:.1f} ms)",
        {"batch_size": new},
        f"{k:.3g}× fewer tasks, so scheduling overhead "
        f"{fmt.num(sched, 3)} s → ~{fmt.num(sched / k, 3)} s per repeat: "
        f"files/s up to {fmt.pct(gain, 0, signed=True)}",
    )


def _more_work_per_task(f: _Facts) -> dict:
    return _advice(
        "more work per Dask task and per repeat (bigger batches or more files "
        "per run), and check for other load on the machine",
        {},
        f"the tasks use {f.conc:.1f} of {f.cpu_count} busy CPUs; fixed "
        "per-task and per-repeat costs shrink as a share of the work, so files/s rises "
        "towards what the tasks alone would allow",
    )


def _smaller_batches(f: _Facts) -> dict:
    useful = min(f.threads, f.cpu_count)
    new = max(1, math.ceil(f.files / (2 * useful))) if f.files else None
    bound = useful / f.conc if f.conc > 0 else None
    if f.cpu_mean:
        bound = min(bound or math.inf, 100.0 / f.cpu_mean)
    gain = (bound - 1) * 100 if bound else None
    return _advice(
        f"smaller batches: batch_size {f.batch} → {new} (≥ 2 tasks per CPU "
        f"for {useful} usable slots)",
        {"batch_size": new},
        f"{f.conc:.1f} → up to {useful} tasks at once; files/s up to "
        f"{fmt.pct(gain, 0, signed=True)} until the CPUs saturate "
        f"(CPU now {fmt.pct(f.cpu_mean)})",
    )


def _lighter_analysis(f: _Facts) -> dict:
    if f.phase.settings.get("analysis") in (None, "minimal"):
        return _advice(
            "a GPU backend or more cores: the CPUs are saturated by compute",
            {},
            "files/s scales at most linearly with cores",
        )
    share = f.bd["busy_share_pct"]["analyse"]
    return _advice(
        "analysis: minimal (size + hash only)",
        {"analysis": "minimal"},
        f"analyse is {fmt.pct(share)} of task time: files/s up to "
        f"{fmt.pct(share / max(100 - share, 1e-9) * 100, 0, True)}",
    )


# ---- reads ------------------------------------------------------------------------------


def _sample_the_cpu(f: _Facts) -> dict:
    return _advice(
        "rerun with the resource sampler working (resources.parquet has no CPU samples)",
        {},
        "tells storage waits from CPU-bound syscalls, which need different "
        "fixes (RAM disk vs more cores)",
    )


def _parallel_reads(f: _Facts) -> dict:
    if f.procs < f.cpu_count:
        return _advice(
            f"processes: {f.cpu_count} (now {f.procs}) so reads run in parallel",
            {"processes": f.cpu_count},
            f"files/s up to ×{f.cpu_count / f.procs:.1f} if reads scale with cores",
        )
    med = f.phase.summary().get("files_per_s_median")
    return _advice(
        "none in the configuration: the CPUs are saturated by "
        "open/read/close; more cores are needed",
        {},
        f"files/s ({fmt.num(med)}) scales at most linearly with cores",
    )


def _faster_storage(f: _Facts) -> dict:
    if not f.phase.staged:
        return _advice(
            "stage the corpus on the RAM disk (staging: true)",
            {"staging": True},
            f"reads from memory instead of storage: read time "
            f"({fmt.num(f.secs['read'], 3)} s per repeat) should shrink; "
            "measure it with the staging ablation",
        )
    headroom = (100 / f.cpu_mean - 1) * 100 if f.cpu_mean else None
    return _advice(
        f"more concurrent reads: threads {f.threads} → {f.threads * 2}",
        {"workers": f.threads * 2},
        f"the CPUs have headroom ({fmt.pct(f.cpu_mean)} busy): more "
        f"reads in flight, files/s up to {fmt.pct(headroom, 0, True)}",
    )


def _deeper_queue(f: _Facts) -> dict:
    more = max(2 * f.threads, 16)
    return _advice(
        f"more reader threads as queue depth: workers {f.threads} → {more}, not fewer",
        {"workers": more},
        f"the device serves more requests at once while the CPUs wait "
        f"({fmt.pct(f.cpu_mean)} busy): files/s rises until the device's busy share and "
        "MB/s stop rising; compare a cold phase at each thread count (bench/bench_cold.py)",
    )


_FOR_READ_CAUSE = {"unsampled": _sample_the_cpu, "cpu": _parallel_reads, "storage": _faster_storage}


def _faster_reads(f: _Facts) -> dict:
    return _FOR_READ_CAUSE[read_cause(f.cpu_mean)](f)


# ---- GPU --------------------------------------------------------------------------------


def _bigger_transfers(f: _Facts) -> dict:
    return _advice(
        f"fewer, larger transfers: batch_size {f.batch} → {(f.batch or 1) * 2}",
        {"batch_size": (f.batch or 1) * 2},
        "transfer latency is paid once per batch: its share of task time "
        "falls, bounded by the transfer bandwidth",
    )


def _gpu_is_the_limit(f: _Facts) -> dict:
    return _advice(
        "the GPU is the limit: lighter analysis or another GPU",
        {},
        "files/s scales with GPU throughput",
    )


def _feed_the_gpu(f: _Facts) -> dict:
    return _advice(
        f"more host threads feeding the GPU: threads {f.threads} → "
        f"{min(f.threads * 2, f.cpu_count * 2)}",
        {},
        "GPU utilisation rises until the host side saturates",
    )


def _profile(f: _Facts) -> dict:
    return _advice(
        "profile a task (no resource is saturated)",
        {},
        "find where the time goes before changing settings",
    )


#: rule id (rules.py) -> the recommendation for that limit
_FOR_RULE: dict[str, Callable[[_Facts], dict]] = {
    "staging": _read_in_place,
    "startup": _shorter_startup,
    "oversubscribed": _fewer_threads,
    "storage_device": _deeper_queue,
    "scheduler": _bigger_batches,
    "outside_tasks": _more_work_per_task,
    "parallelism": _smaller_batches,
    "transfer": _bigger_transfers,
    "read": _faster_reads,
    "gpu_busy": _gpu_is_the_limit,
    "cpu": _lighter_analysis,
    "gpu_idle": _feed_the_gpu,
}


def recommend(phase: Phase, rule: str | None, bd: dict, util: dict) -> dict:
    """One next change with its expected effect, for the limit named by ``rule`` (a rule
    id of rules.py; None or a rule without advice of its own: profile a task)."""
    return _FOR_RULE.get(rule or "", _profile)(_facts(phase, bd, util))
