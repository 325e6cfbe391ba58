"""Bottleneck report: where each phase's time went, what limits it, what to change next,
and whether the plan's predicted gains held.

``filerate bottlenecks --phase-dir DIR [...] --predicted-gains JSON --md OUT.md --json OUT.json``

Time breakdown (per timed repeat, then averaged over the timed repeats)
------------------------------------------------------------------------
For one timed repeat with wall time ``W`` (run.json ``repeats[].wall_s``) on a cluster
with ``S`` task slots (``cluster.total_threads``), the capacity is ``S × W``
slot-seconds. From batches.parquet (the repeat's task attempts, d = stop − start):

* ``busy = Σ d`` over the repeat's tasks;
* component ``c`` in read, hash, h2d (host→device), analyse (compute), d2h (device→host),
  pack, and any further ``*_s`` column the engine records (e.g. ``setup_s``):
  ``Σ c_s`` over the tasks;
* per-task overhead inside tasks: ``busy − Σ components`` (Python, allocation, bookkeeping);
* longest-path estimate ``L``: the makespan the same task durations would have on ``S``
  slots with zero dispatch cost (greedy list scheduling in start order; the tasks are
  independent, so this is the critical path with perfect packing), capped at ``W``;
* scheduling/transfer overhead: ``S × (W − L)``: dispatch gaps, scheduler round trips,
  result transfer and gathering — time the repeat took beyond the ideal schedule;
* idle: ``S × L − busy``: slots that had no task even in the ideal schedule (fewer tasks
  than slots, uneven last wave).

These add up to ``S × W`` exactly. Dividing each by ``S`` expresses it in seconds of the
repeat's wall time (so "read 1.2 s" means read kept the slots busy for 1.2 s of wall on
average). If tasks overlap more than ``S`` allows (clock skew), the busy parts are scaled
to fit. The phase's breakdown is the mean over its timed repeats, preceded by the two
one-off costs of a run: staging (run.json ``staging.seconds``, 0 when not staged) and
cluster start-up (``cluster.startup_s``). Their sum is the **end-to-end time of one pass**
(staging + start-up + one repeat); every share is a percentage of it, so the shares sum
to 100 %.

Utilisation is read from resources.parquet for the timed repeat windows: CPU mean and
peak of ``cpu_pct`` over the samples whose interval (the sampling period before each
sample) overlaps a repeat, context switches per second (increase of the cumulative counter
from the last sample at or before each repeat's start to the first at or after its stop),
peak memory, and per GPU utilisation, memory, temperature and power when those columns
exist. *Concurrency* = Σ busy / Σ W: tasks running at once on average; when
it exceeds the CPU count, each task got ``cpu_count / concurrency`` of a core (its time
inflated by ``concurrency / cpu_count``).

Verdict rules (first match names the processing limit; every match is listed as evidence)
-----------------------------------------------------------------------------------------
CPU saturated means mean ``cpu_pct`` >= 80 % in the timed repeats.

a. **CPU (oversubscribed)**: total threads or processes > cpu_count, CPU saturated, and
   tasks inflated (concurrency >= 1.5 × cpu_count) or context switches >= 5,000/s per CPU.
b. **Dask scheduler overhead**: median task shorter than 20 ms or than 5 × the slot time
   lost per task (scheduling overhead in slot-seconds / tasks), and scheduling overhead
   >= 30 % of the slots' time and larger than the busy time (the gaps dominate).
b2. **CPU outside the tasks (scheduler, client, other processes)**: CPU saturated while the
   tasks keep at most half the CPUs busy (concurrency <= 0.5 × cpu_count).
c. **parallelism (batches too large)**: idle >= 30 % of the repeat wall while the CPU is
   not saturated (fewer tasks than slots, or an uneven last wave).
d. **host↔device transfer** (GPU backend): h2d + d2h >= 30 % of busy time and more than
   analyse.
e. **file open/read (CPU in syscalls)**: read >= 50 % of busy time with the CPU saturated;
   **storage I/O** with it not saturated; **file open/read (CPU use not sampled)** when
   resources.parquet has no samples in the repeats.
f. **GPU compute**: mean GPU utilisation >= 80 %.
g. **CPU (analysis compute)**: CPU saturated and none of the above.
   Otherwise **GPU idle (host-side overhead)** when the GPU is < 30 % busy, else
   **no saturated resource** (the largest share is named).

End to end, **staging (RAM-disk copy)** or **cluster start-up** is the phase's limit when it
takes >= 50 % of the end-to-end time; the processing limit is still reported. Across
phases, **RAM disk no faster than in place** is reported when two phases (or a staging
ablation and its base) differ only in staging and the staged one is < 5 % faster or their
files/s ranges overlap. A mostly idle GPU (< 30 %), files in error and a phase that did
not finish are listed as evidence.

Each phase gets one recommended next change for its limit, with the expected effect
computed from its own measurements (``recommendation``); when the end-to-end limit is a
one-off cost, ``processing_recommendation`` addresses what limits files/s itself.

The plan's predictions, tested
------------------------------
For an ablation phase (run.json ``settings.ablation = {base, knob, from, to, value_of}``),
the measured change is ``median / base median − 1`` (%), its range ``min / base max − 1`` to
``max / base min − 1``. Verdict against the predicted ``[low, high]`` (%): **confirmed** when
the median change lies in it; **inconclusive** when only the range overlaps it;
**refuted** otherwise; **not testable here** when the knob has no effect on this backend
(GPU memory per worker without a GPU), moved against the plan's direction (fewer workers,
smaller batches, more GPU memory, heavier analysis) or the base phase is absent;
**no prediction** when
the plan predicted nothing for the knob (staging). Without ablation phases, consecutive
phases are compared; when several knobs changed at once the combined prediction
(∏(1 + gain) − 1) is shown and the verdict is **not testable here**.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import statistics

import numpy as np
import pandas as pd

from filerate import __version__
from filerate.atomic import write_json, write_text
from filerate.errors import UserError
from filerate.reports.load import (
    EXTRA_COMPONENT_LABELS,
    Phase,
    _float,
    fmt_num,
    fmt_pct,
    gpu_indices,
    load_phases,
    repeat_windows,
    require,
    task_components,
)

KNOBS = ("workers", "batch_size", "gpu_memory_per_worker_gb", "analysis", "staging")

#: breakdown component -> label for people, in display order
BREAKDOWN = {
    "staging": "staging (RAM-disk copy)",
    "startup": "cluster start-up",
    "read": "read",
    "hash": "hash",
    "h2d": "host→device",
    "analyse": "compute (analyse)",
    "d2h": "device→host",
    "pack": "pack",
    "task_overhead": "per-task overhead (inside tasks)",
    "scheduling": "scheduling/transfer overhead",
    "idle": "idle slots",
}


def _label(key: str) -> str:
    if key in BREAKDOWN:
        return BREAKDOWN[key]
    return EXTRA_COMPONENT_LABELS.get(f"{key}_s", key.replace("_", " "))


CPU_SATURATED_PCT = 80.0
OVERSUB_INFLATION = 1.5
CTX_HIGH_PER_CPU_S = 5_000.0
SHORT_TASK_S = 0.020
DISPATCH_FACTOR = 5.0
SCHED_HIGH_PCT = 30.0
IDLE_HIGH_PCT = 30.0
READ_DOMINANT_PCT = 50.0
TRANSFER_DOMINANT_PCT = 30.0
GPU_BUSY_PCT = 80.0
GPU_IDLE_PCT = 30.0
ONE_OFF_DOMINANT_PCT = 50.0
OUTSIDE_TASKS_FRACTION = 0.5
RAMDISK_GAIN_PCT = 5.0
TARGET_TASK_S = 0.1

DEFAULT_GAINS = {
    "workers": [150, 200],
    "batch_size": [100, 150],
    "gpu_memory_per_worker_gb": [50, 100],
    "analysis": [25, 50],
}


# ---- time breakdown -------------------------------------------------------------------


def ideal_makespan(durations, slots: int) -> float:
    """Greedy list scheduling of ``durations`` (in order) on ``slots`` with no overhead."""
    if slots <= 0 or len(durations) == 0:
        return 0.0
    if len(durations) <= slots:
        return float(max(durations))
    heap = [0.0] * slots
    for d in durations:
        t = heapq.heappop(heap)
        heapq.heappush(heap, t + float(d))
    return max(heap)


def repeat_breakdown(tasks: pd.DataFrame, wall: float, slots: int) -> dict:
    """Slot-second accounting of one repeat (see the module docstring)."""
    slots = max(int(slots or 1), 1)
    wall = max(float(wall), 0.0)
    columns = task_components(tasks)
    if len(tasks):
        ordered = tasks.sort_values("start", kind="stable")
        dur = (ordered["stop"] - ordered["start"]).clip(lower=0).to_numpy(dtype=float)
        comps = {
            c[:-2]: float(pd.to_numeric(ordered[c], errors="coerce").fillna(0).clip(lower=0).sum())
            for c in columns
        }
    else:
        dur = np.zeros(0)
        comps = {c[:-2]: 0.0 for c in columns}
    busy = float(dur.sum())
    comp_sum = sum(comps.values())
    if comp_sum > busy > 0:  # components should fit inside the task; scale if not
        comps = {k: v * busy / comp_sum for k, v in comps.items()}
        comp_sum = busy
    parts = dict(comps)
    parts["task_overhead"] = max(0.0, busy - comp_sum)
    capacity = slots * wall
    scaled = False
    if busy > capacity > 0:
        factor = capacity / busy
        parts = {k: v * factor for k, v in parts.items()}
        busy = capacity
        scaled = True
    ideal = min(wall, ideal_makespan(dur, slots)) if len(dur) else 0.0
    ideal = max(ideal, busy / slots)
    parts["scheduling"] = slots * (wall - ideal)
    parts["idle"] = max(0.0, slots * ideal - busy)
    seconds = {k: v / slots for k, v in parts.items()}
    return {
        "wall_s": wall,
        "slots": slots,
        "tasks": int(len(dur)),
        "busy_slot_s": busy,
        "ideal_makespan_s": ideal,
        "slot_seconds": parts,
        "seconds": seconds,
        "task_s_median": float(np.median(dur)) if len(dur) else None,
        "task_s_max": float(dur.max()) if len(dur) else None,
        "scaled_to_fit": scaled,
    }


def phase_breakdown(phase: Phase) -> dict:
    """Mean over the timed repeats, plus staging and start-up, with shares of the total."""
    batches = phase.timed_batches()
    slots = phase.total_threads or 1
    reps = []
    for r in phase.repeats():
        wall = _float(r.get("wall_s"))
        if wall is None:
            a, b = _float(r.get("start")), _float(r.get("stop"))
            wall = (b - a) if a is not None and b is not None else 0.0
        tasks = batches[batches["repeat"] == r["repeat"]]
        rb = repeat_breakdown(tasks, wall, slots)
        rb["repeat"] = r["repeat"]
        reps.append(rb)
    n = max(len(reps), 1)
    comp_keys = [c[:-2] for c in task_components(batches)]
    keys = [*comp_keys, "task_overhead", "scheduling", "idle"]
    seconds = {"staging": phase.staging_s or 0.0, "startup": phase.startup_s or 0.0}
    for k in keys:
        seconds[k] = sum(rb["seconds"].get(k, 0.0) for rb in reps) / n
    total = sum(seconds.values())
    wall_mean = sum(rb["wall_s"] for rb in reps) / n
    rows = [
        {
            "component": k,
            "label": _label(k),
            "seconds": v,
            "share_pct": (v / total * 100.0) if total > 0 else 0.0,
        }
        for k, v in seconds.items()
    ]
    busy = sum(rb["busy_slot_s"] for rb in reps)
    walls = sum(rb["wall_s"] for rb in reps)
    comp_slot = {k: sum(rb["slot_seconds"].get(k, 0.0) for rb in reps) for k in keys}
    tasks = [rb["tasks"] for rb in reps]
    med_tasks = [rb["task_s_median"] for rb in reps if rb["task_s_median"] is not None]
    total_tasks = sum(tasks)
    return {
        "rows": rows,
        "end_to_end_s": total,
        "repeat_wall_s_mean": wall_mean,
        "ideal_makespan_s_mean": sum(rb["ideal_makespan_s"] for rb in reps) / n,
        "repeats": [
            {
                "repeat": rb["repeat"],
                "wall_s": rb["wall_s"],
                "tasks": rb["tasks"],
                "busy_slot_s": rb["busy_slot_s"],
                "ideal_makespan_s": rb["ideal_makespan_s"],
                "seconds": rb["seconds"],
                "scaled_to_fit": rb["scaled_to_fit"],
            }
            for rb in reps
        ],
        "slots": slots,
        "busy_slot_s": busy,
        "concurrency": busy / walls if walls > 0 else None,
        "tasks_per_repeat": statistics.median(tasks) if tasks else 0,
        "task_s_median": statistics.median(med_tasks) if med_tasks else None,
        "dispatch_overhead_s_per_task": (
            comp_slot["scheduling"] / total_tasks if total_tasks else None
        ),
        "in_task_overhead_s_per_task": (
            comp_slot["task_overhead"] / total_tasks if total_tasks else None
        ),
        # shares of busy time and of the repeat wall (slot-seconds based)
        "busy_share_pct": {
            k: (comp_slot[k] / busy * 100.0 if busy > 0 else 0.0)
            for k in [*comp_keys, "task_overhead"]
        },
        "wall_share_pct": {
            "busy": busy / (slots * walls) * 100.0 if walls > 0 else 0.0,
            "scheduling": comp_slot["scheduling"] / (slots * walls) * 100.0 if walls > 0 else 0.0,
            "idle": comp_slot["idle"] / (slots * walls) * 100.0 if walls > 0 else 0.0,
        },
    }


# ---- utilisation ----------------------------------------------------------------------


def sample_weights(t: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Share of each sample's interval that lies inside the windows.

    A sample at ``t[i]`` describes ``(t[i-1], t[i]]`` (the first one a median sampling
    period before it): CPU % and utilisation are averages over that interval. Weighting
    by overlap lets repeats shorter than the sampling period still be measured.
    """
    if len(t) == 0:
        return np.zeros(0)
    gaps = np.diff(t)
    period = float(np.median(gaps)) if len(gaps) else 0.0
    lo = np.concatenate([[t[0] - period], t[:-1]])
    span = np.maximum(t - lo, 1e-12)
    overlap = np.zeros(len(t))
    for a, b in windows:
        overlap += np.clip(np.minimum(t, b) - np.maximum(lo, a), 0, None)
    return np.clip(overlap / span, 0, 1)


def _wmean(values: pd.Series, w: np.ndarray) -> float | None:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (w > 0)
    if not ok.any():
        return None
    return float(np.average(x[ok], weights=w[ok]))


def _wmax(values: pd.Series, w: np.ndarray) -> float | None:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & (w > 0)
    return float(x[ok].max()) if ok.any() else None


def utilisation(phase: Phase) -> dict:
    res = require(phase, "resources")
    windows = repeat_windows(phase)
    t = res["t"].to_numpy(dtype=float)
    w = sample_weights(t, windows)
    period = float(np.median(np.diff(t))) if len(t) >= 2 else None
    out: dict = {"samples": int((w > 0).sum()), "sample_period_s": period}
    if not (w > 0).any():
        out.update(
            cpu_pct_mean=None,
            cpu_pct_peak=None,
            busiest_cpu_pct_mean=None,
            ctx_switches_per_s=None,
            mem_used_bytes_peak=None,
            tree_rss_bytes_peak=None,
            gpus=[],
        )
        return out
    out["cpu_pct_mean"] = _wmean(res["cpu_pct"], w)
    out["cpu_pct_peak"] = _wmax(res["cpu_pct"], w)
    cores = [
        _wmean(res[c], w)
        for c in res.columns
        if c.startswith("cpu") and c.endswith("_pct") and c[3:-4].isdigit()
    ]
    cores = [c for c in cores if c is not None]
    out["busiest_cpu_pct_mean"] = max(cores) if cores else None
    if "ctx_switches" in res.columns:
        # the cumulative counter from the last sample at or before each repeat's start to
        # the first at or after its stop
        delta = dt = 0.0
        ctx = pd.to_numeric(res["ctx_switches"], errors="coerce").to_numpy(dtype=float)
        for a, b in windows:
            before = np.nonzero(t <= a)[0]
            after = np.nonzero(t >= b)[0]
            i = before[-1] if len(before) else 0
            j = after[0] if len(after) else len(t) - 1
            if j > i and np.isfinite(ctx[i]) and np.isfinite(ctx[j]):
                delta += ctx[j] - ctx[i]
                dt += t[j] - t[i]
        out["ctx_switches_per_s"] = delta / dt if dt > 0 else None
    else:
        out["ctx_switches_per_s"] = None
    for col in ("mem_used_bytes", "tree_rss_bytes"):
        out[f"{col}_peak"] = _wmax(res[col], w) if col in res.columns else None
    gpus = []
    for g in gpu_indices(res):
        rec = {"gpu": g}
        for col, stats in (
            ("util_pct", ("mean", "peak")),
            ("mem_used_bytes", ("peak",)),
            ("temp_c", ("mean", "peak")),
            ("power_w", ("mean", "peak")),
            ("sm_clock_mhz", ("mean",)),
        ):
            name = f"gpu{g}_{col}"
            if name in res.columns:
                for stat in stats:
                    fn = _wmean if stat == "mean" else _wmax
                    rec[f"{col}_{stat}"] = fn(res[name], w)
        gpus.append(rec)
    out["gpus"] = gpus
    return out


# ---- verdicts -------------------------------------------------------------------------


def _finding(rule: str, limit: str, evidence: str) -> dict:
    return {"rule": rule, "limit": limit, "evidence": evidence}


def diagnose(phase: Phase, bd: dict, util: dict) -> tuple[str, str, list[dict]]:
    """(limit, processing_limit, findings) for one phase, by the rules in the docstring."""
    cpu_count = phase.cpu_count or 1
    threads = phase.total_threads or 1
    procs = phase.processes or 1
    cpu_mean = util.get("cpu_pct_mean")
    cpu_sat = cpu_mean is not None and cpu_mean >= CPU_SATURATED_PCT
    conc = bd["concurrency"] or 0.0
    inflation = conc / cpu_count
    ctx = util.get("ctx_switches_per_s")
    ctx_per_cpu = ctx / cpu_count if ctx is not None else None
    busy_share = bd["busy_share_pct"]
    wall_share = bd["wall_share_pct"]
    tasks = bd["tasks_per_repeat"]
    med_task = bd["task_s_median"]
    dispatch = bd["dispatch_overhead_s_per_task"]
    gpus = util.get("gpus") or []
    gpu_util = (
        statistics.fmean(g["util_pct_mean"] for g in gpus if g.get("util_pct_mean") is not None)
        if any(g.get("util_pct_mean") is not None for g in gpus)
        else None
    )
    cpu_text = f"CPU {fmt_pct(cpu_mean)} busy" if cpu_mean is not None else "CPU use unknown"

    findings: list[dict] = []
    if not bd["busy_slot_s"]:
        findings.append(
            _finding(
                "no_tasks",
                "no completed tasks",
                "no task of a timed repeat returned; see the errors",
            )
        )

    # a. oversubscription
    if (
        (threads > cpu_count or procs > cpu_count)
        and cpu_sat
        and (
            inflation >= OVERSUB_INFLATION
            or (ctx_per_cpu is not None and ctx_per_cpu >= CTX_HIGH_PER_CPU_S)
        )
    ):
        ev = (
            f"{threads} threads in {procs} processes on {cpu_count} CPUs; {cpu_text}; "
            f"{conc:.1f} tasks ran at once on average, so each got "
            f"{min(1.0, cpu_count / conc) if conc else 0:.2f} of a core (tasks "
            f"~{max(inflation, 1):.1f}× slower than on a free core)"
        )
        if ctx is not None:
            ev += f"; {fmt_num(ctx)} context switches/s ({fmt_num(ctx_per_cpu)} per CPU)"
        findings.append(_finding("oversubscribed", "CPU (oversubscribed)", ev))

    # b. scheduler-bound
    if med_task is not None and dispatch is not None:
        short = med_task < SHORT_TASK_S or med_task < DISPATCH_FACTOR * dispatch
        if (
            short
            and wall_share["scheduling"] >= SCHED_HIGH_PCT
            and (wall_share["scheduling"] > wall_share["busy"])
        ):
            findings.append(
                _finding(
                    "scheduler",
                    "Dask scheduler overhead",
                    f"a repeat took {bd['repeat_wall_s_mean'] * 1e3:,.1f} ms where an "
                    f"overhead-free schedule of the same tasks needs "
                    f"{bd['ideal_makespan_s_mean'] * 1e3:,.1f} ms: submission, dispatch and "
                    f"result transfer take {fmt_pct(wall_share['scheduling'])} of the slots' "
                    f"time vs {fmt_pct(wall_share['busy'])} busy; median task "
                    f"{med_task * 1e3:.1f} ms, {dispatch * 1e3:.1f} ms of slot time lost per "
                    f"task ({tasks:g} tasks per repeat)",
                )
            )

    # b2. CPU busy but not by the tasks
    if cpu_sat and bd["busy_slot_s"] and conc <= OUTSIDE_TASKS_FRACTION * cpu_count:
        findings.append(
            _finding(
                "outside_tasks",
                "CPU outside the tasks (scheduler, client, other processes)",
                f"{cpu_text}, but the tasks kept only {conc:.1f} of {cpu_count} CPUs busy on "
                "average: the rest went to the Dask scheduler, client, result transfer or "
                "other processes",
            )
        )

    # c. parallelism
    if wall_share["idle"] >= IDLE_HIGH_PCT and not cpu_sat and bd["busy_slot_s"]:
        slots = bd["slots"]
        why = (
            f"{tasks:g} tasks per repeat for {slots} thread slots"
            if tasks < slots
            else f"{tasks:g} tasks on {slots} slots leave the last wave short"
        )
        findings.append(
            _finding(
                "parallelism",
                "parallelism (batches too large)",
                f"{why}: idle slots {fmt_pct(wall_share['idle'])} of the slots' time; "
                f"{conc:.1f} tasks ran at once on {cpu_count} CPUs; {cpu_text}",
            )
        )

    # d. transfers
    transfer = busy_share["h2d"] + busy_share["d2h"]
    if transfer >= TRANSFER_DOMINANT_PCT and transfer > busy_share["analyse"]:
        findings.append(
            _finding(
                "transfer",
                "host↔device transfer",
                f"host→device + device→host {fmt_pct(transfer)} of task time vs compute "
                f"{fmt_pct(busy_share['analyse'])}",
            )
        )

    # e. reads
    if busy_share["read"] >= READ_DOMINANT_PCT and bd["busy_slot_s"]:
        if cpu_mean is None:
            limit = "file open/read (CPU use not sampled)"
            tail = "without CPU samples, storage waits and syscall CPU cannot be told apart"
        elif cpu_sat:
            limit = "file open/read (CPU in syscalls)"
            tail = "the CPUs are busy doing the reads"
        else:
            limit = "storage I/O"
            tail = "the CPUs have headroom, so the tasks wait on storage"
        findings.append(
            _finding(
                "read",
                limit,
                f"read {fmt_pct(busy_share['read'])} of task time; {cpu_text}; {tail}",
            )
        )

    # f./GPU idle
    if gpu_util is not None:
        if gpu_util >= GPU_BUSY_PCT:
            findings.append(
                _finding(
                    "gpu_busy", "GPU compute", f"GPU utilisation {fmt_pct(gpu_util)} in the repeats"
                )
            )
        elif gpu_util < GPU_IDLE_PCT:
            findings.append(
                _finding(
                    "gpu_idle",
                    "GPU idle (host-side overhead)",
                    f"GPU utilisation only {fmt_pct(gpu_util)} in the repeats: the host side "
                    "does not feed it fast enough",
                )
            )

    # g. CPU compute (only when nothing more specific explains the busy CPU)
    if cpu_sat and not any(
        f["rule"] in ("oversubscribed", "scheduler", "outside_tasks", "read") for f in findings
    ):
        compute = busy_share["hash"] + busy_share["analyse"] + busy_share["pack"]
        findings.append(
            _finding(
                "cpu",
                "CPU (analysis compute)",
                f"{cpu_text}; hash + analyse + pack {fmt_pct(compute)} of task time",
            )
        )

    order = [
        "no_tasks",
        "oversubscribed",
        "scheduler",
        "outside_tasks",
        "parallelism",
        "transfer",
        "read",
        "gpu_busy",
        "cpu",
        "gpu_idle",
    ]
    by_rule = {f["rule"]: f for f in findings}
    processing = next((by_rule[r]["limit"] for r in order if r in by_rule), None)
    if processing is None:
        largest = max(
            (r for r in bd["rows"] if r["component"] not in ("staging", "startup")),
            key=lambda r: r["seconds"],
            default=None,
        )
        processing = "no saturated resource"
        if largest:
            processing += f" (largest share: {largest['label']})"

    # end-to-end one-off costs
    shares = {r["component"]: r["share_pct"] for r in bd["rows"]}
    limit = processing
    if shares.get("staging", 0) >= ONE_OFF_DOMINANT_PCT:
        limit = "staging (RAM-disk copy)"
        findings.insert(
            0,
            _finding(
                "staging",
                limit,
                f"staging {fmt_num(phase.staging_s, 2)} s = "
                f"{fmt_pct(shares['staging'])} of one end-to-end pass "
                f"({fmt_num(bd['end_to_end_s'], 2)} s)",
            ),
        )
    elif shares.get("startup", 0) >= ONE_OFF_DOMINANT_PCT:
        limit = "cluster start-up"
        findings.insert(
            0,
            _finding(
                "startup",
                limit,
                f"cluster start-up {fmt_num(phase.startup_s, 2)} s for "
                f"{procs} processes = {fmt_pct(shares['startup'])} of one "
                f"end-to-end pass ({fmt_num(bd['end_to_end_s'], 2)} s)",
            ),
        )

    files_error = phase.summary().get("files_error")
    if files_error:
        errs = phase.run.get("errors_by_reason") or {}
        detail = ", ".join(f"{k}: {v}" for k, v in errs.items())
        findings.append(
            _finding(
                "errors",
                "files in error",
                f"{files_error} files in error" + (f" ({detail})" if detail else ""),
            )
        )
    if phase.run.get("status") not in (None, "ok"):
        findings.append(
            _finding("status", "phase did not finish", f"status {phase.run.get('status')!r}")
        )
    return limit, processing, findings


def recommend(phase: Phase, limit: str, bd: dict, util: dict) -> dict:
    """One next change with its expected effect, for the phase's limit."""
    cpu_count = phase.cpu_count or 1
    threads = phase.total_threads or 1
    procs = phase.processes or 1
    batch = int(phase.settings.get("batch_size") or 0) or None
    files = int((phase.run.get("corpus") or {}).get("files") or 0) or None
    cpu_mean = util.get("cpu_pct_mean")
    conc = bd["concurrency"] or 0.0
    secs = {r["component"]: r["seconds"] for r in bd["rows"]}
    e2e = bd["end_to_end_s"]
    wall = bd["repeat_wall_s_mean"]
    med = phase.summary().get("files_per_s_median")

    if limit.startswith("staging"):
        return {
            "change": "read the corpus in place (staging: false)",
            "settings": {"staging": False},
            "expected": f"one pass takes up to {fmt_num(secs['staging'], 2)} s less "
            f"({fmt_num(e2e, 2)} → {fmt_num(e2e - secs['staging'], 2)} s) if "
            "reading in place is as fast; confirm with the staging ablation",
        }
    if limit == "cluster start-up":
        if procs > cpu_count:
            return {
                "change": f"use at most cpu_count = {cpu_count} worker processes "
                f"(processes: {cpu_count}; now {procs})",
                "settings": {"processes": cpu_count},
                "expected": f"start-up ({fmt_num(secs['startup'], 2)} s now) shrinks "
                f"roughly in proportion to the process count "
                f"(≈ {fmt_num(secs['startup'] * cpu_count / procs, 2)} s)",
            }
        return {
            "change": "start the cluster once and reuse it (an existing scheduler: "
            "address/scheduler_file), or process more files per run",
            "settings": {},
            "expected": f"up to {fmt_num(secs['startup'], 2)} s of "
            f"{fmt_num(e2e, 2)} s per pass saved",
        }
    if limit == "CPU (oversubscribed)":
        return {
            "change": f"workers: cpu_count (= {cpu_count} threads) instead of {threads}",
            "settings": {"workers": "cpu_count"},
            "expected": f"about the same or higher files/s with tasks ~"
            f"{max(conc / cpu_count, 1):.0f}× shorter and far fewer context "
            f"switches: the {cpu_count} CPUs are already "
            f"{fmt_pct(cpu_mean)} busy, so more threads cannot add throughput",
        }
    if limit == "Dask scheduler overhead":
        med_task = bd["task_s_median"] or 0.0
        factor = max(2.0, TARGET_TASK_S / med_task) if med_task > 0 else 10.0
        new = math.ceil((batch or 1) * factor)
        useful = max(1, min(threads, cpu_count))
        if files:  # keep at least 2 tasks per usable slot
            new = min(new, max(1, math.ceil(files / (2 * useful))))
        k = new / (batch or 1)
        sched = secs["scheduling"]
        if k <= 1:
            ideal = bd["ideal_makespan_s_mean"]
            over = max(wall - ideal, 0.0)
            now = files / wall if files and wall > 0 else None
            later = 10 * files / (10 * ideal + over) if files and (ideal or over) else None
            return {
                "change": "more files per run: batches cannot grow without starving "
                f"the {useful} usable slots, and {fmt_num(over * 1e3, 1)} ms of each "
                f"{fmt_num(wall * 1e3, 1)} ms repeat is fixed Dask overhead",
                "settings": {},
                "expected": f"with 10× the files the overhead is amortised: files/s up to "
                f"≈ {fmt_num(later)} (now {fmt_num(now)})",
            }
        new_wall = wall - sched * (1 - 1 / k) if k > 1 else wall
        gain = (wall / new_wall - 1) * 100 if new_wall > 0 else None
        return {
            "change": f"bigger batches: batch_size {batch} → {new} (tasks of "
            f"~{med_task * k * 1e3:.0f} ms instead of {med_task * 1e3:.1f} ms)",
            "settings": {"batch_size": new},
            "expected": f"{k:.3g}× fewer tasks, so scheduling overhead "
            f"{fmt_num(sched, 3)} s → ~{fmt_num(sched / k, 3)} s per repeat: "
            f"files/s up to {fmt_pct(gain, 0, signed=True)}",
        }
    if limit.startswith("CPU outside the tasks"):
        return {
            "change": "more work per Dask task and per repeat (bigger batches or more files "
            "per run), and check for other load on the machine",
            "settings": {},
            "expected": f"the tasks use {conc:.1f} of {cpu_count} busy CPUs; fixed "
            "per-task and per-repeat costs shrink as a share of the work, so files/s rises "
            "towards what the tasks alone would allow",
        }
    if limit == "parallelism (batches too large)":
        useful = min(threads, cpu_count)
        new = max(1, math.ceil(files / (2 * useful))) if files else None
        bound = useful / conc if conc > 0 else None
        if cpu_mean:
            bound = min(bound or math.inf, 100.0 / cpu_mean)
        gain = (bound - 1) * 100 if bound else None
        return {
            "change": f"smaller batches: batch_size {batch} → {new} (≥ 2 tasks per CPU "
            f"for {useful} usable slots)",
            "settings": {"batch_size": new},
            "expected": f"{conc:.1f} → up to {useful} tasks at once; files/s up to "
            f"{fmt_pct(gain, 0, signed=True)} until the CPUs saturate "
            f"(CPU now {fmt_pct(cpu_mean)})",
        }
    if limit == "host↔device transfer":
        return {
            "change": f"fewer, larger transfers: batch_size {batch} → {(batch or 1) * 2}",
            "settings": {"batch_size": (batch or 1) * 2},
            "expected": "transfer latency is paid once per batch: its share of task time "
            "falls, bounded by the transfer bandwidth",
        }
    if limit == "file open/read (CPU use not sampled)":
        return {
            "change": "rerun with the resource sampler working (resources.parquet has no "
            "CPU samples)",
            "settings": {},
            "expected": "tells storage waits from CPU-bound syscalls, which need different "
            "fixes (RAM disk vs more cores)",
        }
    if limit == "file open/read (CPU in syscalls)":
        if procs < cpu_count:
            return {
                "change": f"processes: {cpu_count} (now {procs}) so reads run in parallel",
                "settings": {"processes": cpu_count},
                "expected": f"files/s up to ×{cpu_count / procs:.1f} if reads scale with cores",
            }
        return {
            "change": "none in the configuration: the CPUs are saturated by "
            "open/read/close; more cores are needed",
            "settings": {},
            "expected": f"files/s ({fmt_num(med)}) scales at most linearly with cores",
        }
    if limit == "storage I/O":
        if not phase.staged:
            return {
                "change": "stage the corpus on the RAM disk (staging: true)",
                "settings": {"staging": True},
                "expected": f"reads from memory instead of storage: read time "
                f"({fmt_num(secs['read'], 3)} s per repeat) should shrink; "
                "measure it with the staging ablation",
            }
        return {
            "change": f"more concurrent reads: threads {threads} → {threads * 2}",
            "settings": {"workers": threads * 2},
            "expected": f"the CPUs have headroom ({fmt_pct(cpu_mean)} busy): more "
            f"reads in flight, files/s up to "
            f"{fmt_pct((100 / cpu_mean - 1) * 100 if cpu_mean else None, 0, True)}",
        }
    if limit == "GPU compute":
        return {
            "change": "the GPU is the limit: lighter analysis or another GPU",
            "settings": {},
            "expected": "files/s scales with GPU throughput",
        }
    if limit == "CPU (analysis compute)":
        if phase.settings.get("analysis") not in (None, "minimal"):
            share = sum(bd["busy_share_pct"][k] for k in ("analyse",))
            return {
                "change": "analysis: minimal (size + hash only)",
                "settings": {"analysis": "minimal"},
                "expected": f"analyse is {fmt_pct(share)} of task time: files/s up to "
                f"{fmt_pct(share / max(100 - share, 1e-9) * 100, 0, True)}",
            }
        return {
            "change": "a GPU backend or more cores: the CPUs are saturated by compute",
            "settings": {},
            "expected": "files/s scales at most linearly with cores",
        }
    if limit.startswith("GPU idle"):
        return {
            "change": f"more host threads feeding the GPU: threads {threads} → "
            f"{min(threads * 2, cpu_count * 2)}",
            "settings": {},
            "expected": "GPU utilisation rises until the host side saturates",
        }
    return {
        "change": "profile a task (no resource is saturated)",
        "settings": {},
        "expected": "find where the time goes before changing settings",
    }


# ---- predictions ----------------------------------------------------------------------


def _knob_value(phase: Phase, knob: str):
    if knob == "workers":
        return phase.total_threads or phase.resolved.get("workers") or phase.settings.get(knob)
    return phase.settings.get(knob)


def _fmt_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _change(phase: Phase, base: Phase) -> tuple[float | None, list[float] | None]:
    s, b = phase.summary(), base.summary()
    med, bmed = _float(s.get("files_per_s_median")), _float(b.get("files_per_s_median"))
    if med is None or not bmed:
        return None, None
    change = (med / bmed - 1) * 100
    lo, hi = _float(s.get("files_per_s_min")), _float(s.get("files_per_s_max"))
    blo, bhi = _float(b.get("files_per_s_min")), _float(b.get("files_per_s_max"))
    rng = None
    if None not in (lo, hi, blo, bhi) and blo and bhi:
        rng = [(lo / bhi - 1) * 100, (hi / blo - 1) * 100]
    return change, rng


def _verdict(change, rng, predicted) -> tuple[str, str]:
    lo, hi = predicted
    if lo <= change <= hi:
        return "confirmed", "the measured change lies in the predicted range"
    if rng is not None and rng[0] <= hi and rng[1] >= lo:
        return "inconclusive", "only the repeat-to-repeat range overlaps the prediction"
    side = "below" if change < lo else "above"
    return "refuted", f"the measured change is {side} the predicted range"


def _pct_range(rng) -> str:
    if rng is None:
        return "—"
    a, b = rng
    return f"{fmt_pct(a, 0, True)} to {fmt_pct(b, 0, True)}"


def _pred_text(predicted) -> str:
    if predicted is None:
        return "no prediction"
    lo, hi = predicted
    if lo >= 0:
        return f"+{lo:.0f}–{hi:.0f} %"
    return f"{lo:+.0f} to {hi:+.0f} %".replace("-", "−")


_ANALYSIS_ORDER = {"minimal": 0, "light": 1, "full": 2}


def plan_direction(knob: str, frm, to) -> bool | None:
    """Did the knob move the way the plan moved it (more workers, bigger batches, less GPU
    memory per worker, lighter analysis)? None when it cannot be told."""
    try:
        if knob in ("workers", "batch_size"):
            return float(to) > float(frm)
        if knob == "gpu_memory_per_worker_gb":
            return float(to) < float(frm)
        if knob == "analysis":
            return _ANALYSIS_ORDER[str(to)] < _ANALYSIS_ORDER[str(frm)]
    except (TypeError, ValueError, KeyError):
        return None
    return None


def _test(
    phase: Phase,
    base: Phase,
    knob: str,
    changed: list[str],
    gains: dict,
    mode: str,
    corpus_changed: str | None = None,
) -> dict:
    change, rng = _change(phase, base)
    against = [
        k
        for k in changed
        if plan_direction(k, _knob_value(base, k), _knob_value(phase, k)) is False
    ]
    if len(changed) == 1:
        predicted = gains.get(knob)
    else:
        lo = hi = 1.0
        any_pred = False
        for k in changed:
            if k in gains:
                any_pred = True
                lo *= 1 + gains[k][0] / 100
                hi *= 1 + gains[k][1] / 100
        predicted = [(lo - 1) * 100, (hi - 1) * 100] if any_pred else None
    frm = ", ".join(f"{k} {_fmt_value(_knob_value(base, k))}" for k in changed) or "—"
    to = ", ".join(_fmt_value(_knob_value(phase, k)) for k in changed) or "—"
    if len(changed) == 1:
        desc = (
            f"{knob} {_fmt_value(_knob_value(base, knob))} → {_fmt_value(_knob_value(phase, knob))}"
        )
    else:
        desc = (
            "; ".join(
                f"{k} {_fmt_value(_knob_value(base, k))} → {_fmt_value(_knob_value(phase, k))}"
                for k in changed
            )
            or "no knob"
        )
    rec = {
        "phase": phase.name,
        "base": base.name,
        "mode": mode,
        "knob": knob,
        "knobs_changed": changed,
        "from": frm,
        "to": to,
        "description": desc,
        "predicted_pct": predicted,
        "measured_pct": change,
        "measured_range_pct": rng,
    }
    if change is None:
        verdict, reason = "not testable here", "no files/s measured for one of the phases"
    elif len(changed) != 1 or corpus_changed:
        parts = []
        if len(changed) > 1:
            parts.append(f"{len(changed)} knobs changed at once ({', '.join(changed)})")
        elif not changed:
            parts.append("no plan knob changed")
        if corpus_changed:
            parts.append(corpus_changed)
        verdict, reason = "not testable here", " and ".join(parts)
    elif against:
        verdict = "not testable here"
        reason = (
            f"{', '.join(against)} moved against the plan's direction; the plan's "
            "prediction is for the opposite change"
        )
    elif knob == "gpu_memory_per_worker_gb" and "gpu" not in (
        phase.backend_used,
        base.backend_used,
    ):
        verdict = "not testable here"
        reason = (
            f"backend {phase.backend_used}: GPU memory per worker has no effect "
            "without a GPU; the measured change is noise"
        )
    elif predicted is None:
        verdict, reason = "no prediction", f"the plan predicted no gain for {knob}"
    else:
        verdict, reason = _verdict(change, rng, predicted)
    rec["verdict"] = verdict
    rec["reason"] = reason
    pred = (
        "no prediction in the plan" if predicted is None else f"predicted {_pred_text(predicted)}"
    )
    rec["text"] = f"{desc}: {pred}, measured {fmt_pct(change, 0, True)} → {verdict}"
    return rec


def _changed_knobs(phase: Phase, base: Phase) -> list[str]:
    return [k for k in KNOBS if _knob_value(phase, k) != _knob_value(base, k)]


def predictions(phases: list[Phase], gains: dict) -> dict:
    by_name = {p.name: p for p in phases}
    ablations = [p for p in phases if p.ablation]
    tests = []
    if ablations:
        mode = "ablation"
        for p in ablations:
            ab = p.ablation
            knob = str(ab.get("knob"))
            base = by_name.get(str(ab.get("base")))
            if base is None:
                tests.append(
                    {
                        "phase": p.name,
                        "base": ab.get("base"),
                        "mode": mode,
                        "knob": knob,
                        "knobs_changed": [knob],
                        "from": _fmt_value(ab.get("from")),
                        "to": _fmt_value(ab.get("to")),
                        "description": f"{knob} {_fmt_value(ab.get('from'))} → "
                        f"{_fmt_value(ab.get('to'))}",
                        "predicted_pct": gains.get(knob),
                        "measured_pct": None,
                        "measured_range_pct": None,
                        "verdict": "not testable here",
                        "reason": f"base phase {ab.get('base')!r} is not among the phase dirs",
                        "text": f"{knob}: base phase {ab.get('base')} missing → not testable here",
                    }
                )
                continue
            tests.append(_test(p, base, knob, [knob], gains, mode))
    else:
        mode = "consecutive"
        for prev, p in itertools.pairwise(phases):
            changed = _changed_knobs(p, prev)
            pc = (p.run.get("corpus") or {}).get("files")
            bc = (prev.run.get("corpus") or {}).get("files")
            corpus_changed = (
                f"the corpus changed ({fmt_num(bc)} → {fmt_num(pc)} files)" if pc != bc else None
            )
            knob = changed[0] if len(changed) == 1 else "+".join(changed) or "none"
            tests.append(_test(p, prev, knob, changed, gains, mode, corpus_changed))
    return {"mode": mode, "tests": tests}


# ---- RAM disk vs in place ---------------------------------------------------------------


_SAME_KEYS = (
    "corpus",
    "backend",
    "workers",
    "processes",
    "batch_size",
    "gpu_memory_per_worker_gb",
    "analysis",
)


def ramdisk_pairs(phases: list[Phase]) -> list[dict]:
    """Phases that differ only in staging: is the RAM disk faster?"""
    out, seen = [], set()
    for i, a in enumerate(phases):
        for b in phases[i + 1 :]:
            if a.staged == b.staged:
                continue
            if not all(a.settings.get(k) == b.settings.get(k) for k in _SAME_KEYS):
                continue
            staged, inplace = (a, b) if a.staged else (b, a)
            key = (staged.name, inplace.name)
            if key in seen:
                continue
            seen.add(key)
            change, rng = _change(staged, inplace)
            if change is None:
                continue
            overlap = rng is not None and rng[0] <= 0 <= rng[1]
            no_faster = change < RAMDISK_GAIN_PCT or overlap
            stage_s = staged.staging_s or 0.0
            text = (
                f"{staged.name} (staged) {fmt_num(staged.summary()['files_per_s_median'])} "
                f"files/s vs {inplace.name} (in place) "
                f"{fmt_num(inplace.summary()['files_per_s_median'])} files/s: "
                f"{fmt_pct(change, 0, True)} (range {_pct_range(rng)}); staging cost "
                f"{fmt_num(stage_s, 2)} s"
            )
            out.append(
                {
                    "staged": staged.name,
                    "in_place": inplace.name,
                    "change_pct": change,
                    "range_pct": rng,
                    "staging_s": stage_s,
                    "verdict": "RAM disk no faster than in place"
                    if no_faster
                    else "RAM disk faster than in place",
                    "text": text,
                }
            )
    return out


# ---- the whole report -----------------------------------------------------------------


def parse_gains(text: str | None) -> dict:
    if text is None:
        return dict(DEFAULT_GAINS)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"--predicted-gains is not valid JSON ({exc.msg}); give e.g. "
            "'{\"workers\":[150,200]}'"
        ) from None
    if not isinstance(data, dict):
        raise UserError("--predicted-gains must be a JSON object: knob -> [low, high] percent")
    out = {}
    for knob, value in data.items():
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise UserError(
                f"--predicted-gains: {knob} = {value!r}: must be [low, high] in percent"
            )
        lo, hi = sorted(float(v) for v in value)
        out[str(knob)] = [lo, hi]
    return out


def analyse(phases: list[Phase], gains: dict | None = None) -> dict:
    """The bottleneck report as a JSON-serialisable dict."""
    gains = DEFAULT_GAINS if gains is None else gains
    pairs = ramdisk_pairs(phases)
    out_phases = []
    for ph in phases:
        bd = phase_breakdown(ph)
        util = utilisation(ph)
        limit, processing, findings = diagnose(ph, bd, util)
        for pair in pairs:
            if pair["staged"] == ph.name and pair["verdict"].endswith("no faster than in place"):
                findings.append(_finding("ramdisk_no_faster", pair["verdict"], pair["text"]))
        s = ph.summary()
        out_phases.append(
            {
                "phase": ph.name,
                "backend": ph.backend_used,
                "cpu_count": ph.cpu_count,
                "processes": ph.processes,
                "threads_per_process": ph.threads_per_process,
                "slots": bd["slots"],
                "batch_size": ph.settings.get("batch_size"),
                "analysis": ph.settings.get("analysis"),
                "staged": ph.staged,
                "files_per_s_median": s.get("files_per_s_median"),
                "limit": limit,
                "processing_limit": processing,
                "findings": findings,
                "recommendation": recommend(ph, limit, bd, util),
                "processing_recommendation": (
                    recommend(ph, processing, bd, util) if processing != limit else None
                ),
                "breakdown": bd["rows"],
                "end_to_end_s": bd["end_to_end_s"],
                "repeat_wall_s_mean": bd["repeat_wall_s_mean"],
                "tasks": {
                    "per_repeat": bd["tasks_per_repeat"],
                    "duration_s_median": bd["task_s_median"],
                    "dispatch_overhead_s_per_task": bd["dispatch_overhead_s_per_task"],
                    "in_task_overhead_s_per_task": bd["in_task_overhead_s_per_task"],
                    "concurrency": bd["concurrency"],
                },
                "busy_share_pct": bd["busy_share_pct"],
                "wall_share_pct": bd["wall_share_pct"],
                "utilisation": util,
                "repeats": bd["repeats"],
                "warnings": list(ph.notes),
            }
        )
    return {
        "generated_by": f"filerate {__version__}",
        "baseline": phases[0].name,
        "definitions": {
            "breakdown": "Per timed repeat: slots S = total threads, capacity S*wall; "
            "components = sums of the *_s columns; per-task overhead = busy - "
            "components; scheduling = S*(wall - L) with L the zero-overhead "
            "list-schedule makespan; idle = S*L - busy; divided by S to give "
            "seconds of wall; averaged over timed repeats; staging and start-up "
            "added once; shares are of that end-to-end total.",
            "thresholds": {
                "cpu_saturated_pct": CPU_SATURATED_PCT,
                "oversub_inflation": OVERSUB_INFLATION,
                "ctx_high_per_cpu_s": CTX_HIGH_PER_CPU_S,
                "short_task_s": SHORT_TASK_S,
                "sched_high_pct": SCHED_HIGH_PCT,
                "idle_high_pct": IDLE_HIGH_PCT,
                "read_dominant_pct": READ_DOMINANT_PCT,
                "transfer_dominant_pct": TRANSFER_DOMINANT_PCT,
                "gpu_busy_pct": GPU_BUSY_PCT,
                "gpu_idle_pct": GPU_IDLE_PCT,
                "one_off_dominant_pct": ONE_OFF_DOMINANT_PCT,
                "outside_tasks_fraction": OUTSIDE_TASKS_FRACTION,
                "ramdisk_gain_pct": RAMDISK_GAIN_PCT,
            },
        },
        "predicted_gains_pct": gains,
        "phases": out_phases,
        "predictions": predictions(phases, gains),
        "ramdisk_comparisons": pairs,
    }


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    out = [
        "# Bottlenecks",
        "",
        f"Baseline: **{_md(report['baseline'])}**. Each phase's time is one end-to-end "
        "pass: staging + cluster start-up + one timed repeat (mean over the timed "
        "repeats). Definitions and rules: `filerate.reports.bottlenecks` docstring.",
        "",
        "| phase | files/s (median) | limiting resource | limits files/s | next change |",
        "|---|--:|---|---|---|",
    ]
    for ph in report["phases"]:
        out.append(
            f"| {_md(ph['phase'])} | {fmt_num(ph['files_per_s_median'])} | "
            f"{_md(ph['limit'])} | {_md(ph['processing_limit'])} | "
            f"{_md(ph['recommendation']['change'])} |"
        )
    for ph in report["phases"]:
        util = ph["utilisation"]
        tasks = ph["tasks"]
        out += ["", f"## {_md(ph['phase'])}: {_md(ph['limit'])}", ""]
        if ph["processing_limit"] != ph["limit"]:
            out += [f"Processing itself is limited by: **{_md(ph['processing_limit'])}**.", ""]
        out += [
            f"{ph['backend']} backend, {ph['processes']} processes × "
            f"{ph['threads_per_process']} threads = {ph['slots']} slots on "
            f"{ph['cpu_count']} CPUs; batch {ph['batch_size']}; analysis {ph['analysis']}; "
            f"{'staged on the RAM disk' if ph['staged'] else 'read in place'}.",
            "",
        ]
        for w in ph.get("warnings") or []:
            out += [f"> **Warning:** {_md(w)}", ""]
        if ph["findings"]:
            out.append("Evidence:")
            out.append("")
            for f in ph["findings"]:
                out.append(f"- **{_md(f['limit'])}**: {_md(f['evidence'])}")
            out.append("")
        out += ["| component | seconds | share |", "|---|--:|--:|"]
        for r in ph["breakdown"]:
            out.append(f"| {_md(r['label'])} | {r['seconds']:.4f} | {r['share_pct']:.1f} % |")
        out.append(f"| **end to end (one pass)** | **{ph['end_to_end_s']:.4f}** | **100 %** |")
        out.append("")
        line = (
            f"Utilisation in the timed repeats: CPU {fmt_pct(util.get('cpu_pct_mean'))} mean, "
            f"{fmt_pct(util.get('cpu_pct_peak'))} peak; "
            f"{tasks['concurrency'] or 0:.1f} tasks at once on average; "
            f"{fmt_num(util.get('ctx_switches_per_s'))} context switches/s; "
            f"{fmt_num(tasks['per_repeat'])} tasks per repeat, median "
            f"{fmt_num((tasks['duration_s_median'] or 0) * 1e3, 1)} ms."
        )
        for g in util.get("gpus") or []:
            line += (
                f" GPU {g['gpu']}: {fmt_pct(g.get('util_pct_mean'))} busy "
                f"(peak {fmt_pct(g.get('util_pct_peak'))}), "
                f"{fmt_num(g.get('temp_c_peak'))} °C peak, "
                f"{fmt_num(g.get('power_w_mean'))} W mean."
            )
        out += [line, ""]
        rec = ph["recommendation"]
        out += [f"**Next change:** {_md(rec['change'])}. **Expected:** {_md(rec['expected'])}.", ""]
        prec = ph.get("processing_recommendation")
        if prec:
            out += [
                f"**For files/s itself:** {_md(prec['change'])}. "
                f"**Expected:** {_md(prec['expected'])}.",
                "",
            ]
    pred = report["predictions"]
    out += ["## The plan's predictions, tested", ""]
    if pred["mode"] == "consecutive":
        out += [
            "No ablation phases were run, so consecutive phases are compared; where "
            "several knobs changed at once no single prediction can be tested (run "
            "with `ablation: true` to test each knob alone).",
            "",
        ]
    else:
        out += ["Each ablation phase changes one knob of its base phase.", ""]
    if pred["tests"]:
        out += [
            "| phase | vs | change | predicted | measured (range) | verdict | why |",
            "|---|---|---|--:|--:|---|---|",
        ]
        for t in pred["tests"]:
            out.append(
                f"| {_md(t['phase'])} | {_md(t['base'])} | {_md(t['description'])} | "
                f"{_pred_text(t['predicted_pct'])} | {fmt_pct(t['measured_pct'], 0, True)} "
                f"({_pct_range(t['measured_range_pct'])}) | **{t['verdict']}** | "
                f"{_md(t['reason'])} |"
            )
        out.append("")
        for t in pred["tests"]:
            out.append(f"- {_md(t['text'])}")
    else:
        out.append("Only one phase: nothing to compare.")
    out.append("")
    if report["ramdisk_comparisons"]:
        out += ["## RAM disk against reading in place", ""]
        for c in report["ramdisk_comparisons"]:
            out.append(f"- **{c['verdict']}**: {_md(c['text'])}")
        out.append("")
    return "\n".join(out)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bottlenecks",
        help="where each phase's time goes, what limits it, and the plan's predictions tested",
        description=(
            "Break each phase's end-to-end time into staging, start-up, read, hash, "
            "transfers, compute, pack, per-task and scheduling overhead and idle slots; "
            "name the limiting resource with evidence; recommend the next change; and "
            "compare the plan's predicted gain per knob with the measured change."
        ),
    )
    p.add_argument(
        "--phase-dir",
        action="append",
        required=True,
        metavar="DIR",
        help="a phase's results directory (repeat; the first is the baseline)",
    )
    p.add_argument(
        "--predicted-gains",
        metavar="JSON",
        default=None,
        help="the plan's predicted gain per knob in percent, e.g. "
        '\'{"workers":[150,200],"batch_size":[100,150]}\' '
        "(default: the plan's own numbers)",
    )
    p.add_argument("--md", required=True, metavar="FILE", help="Markdown report to write")
    p.add_argument("--json", required=True, metavar="FILE", help="JSON report to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    gains = parse_gains(args.predicted_gains)
    phases = load_phases(args.phase_dir)
    for ph in phases:
        require(ph, "batches")
        require(ph, "resources")
    report = analyse(phases, gains)
    write_json(args.json, report)
    write_text(args.md, to_markdown(report))
    return 0
