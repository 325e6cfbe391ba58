"""Time accounting: where each timed repeat's slot-seconds went, and the phase's mean
end-to-end pass (staging + start-up + one repeat). The arithmetic is described in the
package docstring (``filerate.reports.bottlenecks``)."""

from __future__ import annotations

import heapq
import statistics

import numpy as np
import pandas as pd

from filerate.reports.load import EXTRA_COMPONENT_LABELS, Phase, as_float, task_components

#: breakdown component -> label for people, in display order
BREAKDOWN = {
    "staging": "staging (RAM-disk copy)",
    "startup": "cluster start-up",
    "warmup": "kernel warm-up",
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

#: the one-off set-up of a real pass, before any timed repeat (wall seconds)
SETUP = ("staging", "startup", "warmup")

#: the parts of a repeat that are not recorded task components
_OVERHEADS = ("task_overhead", "scheduling", "idle")


def label(key: str) -> str:
    """The label for people of a breakdown component (also an engine's extra ``*_s``)."""
    if key in BREAKDOWN:
        return BREAKDOWN[key]
    return EXTRA_COMPONENT_LABELS.get(f"{key}_s", key.replace("_", " "))


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


def _task_parts(tasks: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Task durations in start order and the summed ``*_s`` components (keys without _s)."""
    columns = task_components(tasks)
    if not len(tasks):
        return np.zeros(0), {c[:-2]: 0.0 for c in columns}
    ordered = tasks.sort_values("start", kind="stable")
    dur = (ordered["stop"] - ordered["start"]).clip(lower=0).to_numpy(dtype=float)
    comps = {
        c[:-2]: float(pd.to_numeric(ordered[c], errors="coerce").fillna(0).clip(lower=0).sum())
        for c in columns
    }
    return dur, comps


def repeat_breakdown(tasks: pd.DataFrame, wall: float, slots: int) -> dict:
    """Slot-second accounting of one repeat (see the package docstring)."""
    slots = max(int(slots or 1), 1)
    wall = max(float(wall), 0.0)
    dur, comps = _task_parts(tasks)
    busy = float(dur.sum())
    comp_sum = sum(comps.values())
    if comp_sum > busy > 0:  # components should fit inside the task; scale if not
        comps = {k: v * busy / comp_sum for k, v in comps.items()}
        comp_sum = busy
    parts = dict(comps)
    parts["task_overhead"] = max(0.0, busy - comp_sum)
    capacity = slots * wall
    scaled = False
    if busy > capacity > 0:  # clock skew: tasks overlap more than the slots allow
        factor = capacity / busy
        parts = {k: v * factor for k, v in parts.items()}
        busy = capacity
        scaled = True
    ideal = min(wall, ideal_makespan(dur, slots)) if len(dur) else 0.0
    ideal = max(ideal, busy / slots)
    parts["scheduling"] = slots * (wall - ideal)
    parts["idle"] = max(0.0, slots * ideal - busy)
    return {
        "wall_s": wall,
        "slots": slots,
        "tasks": int(len(dur)),
        "busy_slot_s": busy,
        "ideal_makespan_s": ideal,
        "slot_seconds": parts,
        "seconds": {k: v / slots for k, v in parts.items()},
        "task_s_median": float(np.median(dur)) if len(dur) else None,
        "task_s_max": float(dur.max()) if len(dur) else None,
        "scaled_to_fit": scaled,
    }


def _repeat_wall(rep: dict) -> float:
    wall = as_float(rep.get("wall_s"))
    if wall is None:
        a, b = as_float(rep.get("start")), as_float(rep.get("stop"))
        wall = (b - a) if a is not None and b is not None else 0.0
    return wall


def repeat_breakdowns(phase: Phase, batches: pd.DataFrame) -> list[dict]:
    """:func:`repeat_breakdown` of each timed repeat (tasks from ``batches``)."""
    slots = phase.total_threads or 1
    reps = []
    for r in phase.repeats():
        tasks = batches[batches["repeat"] == r["repeat"]]
        rb = repeat_breakdown(tasks, _repeat_wall(r), slots)
        rb["repeat"] = r["repeat"]
        reps.append(rb)
    return reps


def _rows(seconds: dict) -> list[dict]:
    total = sum(seconds.values())
    return [
        {
            "component": k,
            "label": label(k),
            "seconds": v,
            "share_pct": (v / total * 100.0) if total > 0 else 0.0,
        }
        for k, v in seconds.items()
    ]


def _repeat_summary(rb: dict) -> dict:
    keys = ("repeat", "wall_s", "tasks", "busy_slot_s", "ideal_makespan_s", "seconds")
    return {**{k: rb[k] for k in keys}, "scaled_to_fit": rb["scaled_to_fit"]}


def _task_figures(reps: list[dict], comp_slot: dict) -> dict:
    """Tasks per repeat, median task and the overhead per task over the repeats."""
    tasks = [rb["tasks"] for rb in reps]
    med_tasks = [rb["task_s_median"] for rb in reps if rb["task_s_median"] is not None]
    total_tasks = sum(tasks)
    return {
        "tasks_per_repeat": statistics.median(tasks) if tasks else 0,
        "task_s_median": statistics.median(med_tasks) if med_tasks else None,
        "dispatch_overhead_s_per_task": (
            comp_slot["scheduling"] / total_tasks if total_tasks else None
        ),
        "in_task_overhead_s_per_task": (
            comp_slot["task_overhead"] / total_tasks if total_tasks else None
        ),
    }


def _shares(comp_slot: dict, comp_keys: list[str], busy: float, capacity: float) -> dict:
    """Shares of busy time (per component) and of the slots' wall time (slot-seconds)."""

    def of_capacity(value: float) -> float:
        return value / capacity * 100.0 if capacity > 0 else 0.0

    return {
        "busy_share_pct": {
            k: (comp_slot[k] / busy * 100.0 if busy > 0 else 0.0)
            for k in [*comp_keys, "task_overhead"]
        },
        "wall_share_pct": {
            "busy": of_capacity(busy),
            "scheduling": of_capacity(comp_slot["scheduling"]),
            "idle": of_capacity(comp_slot["idle"]),
        },
    }


def phase_breakdown(phase: Phase) -> dict:
    """Mean over the timed repeats, plus staging, start-up and kernel warm-up (the set-up
    of one real pass), with shares of the total."""
    batches = phase.timed_batches()
    reps = repeat_breakdowns(phase, batches)
    slots = phase.total_threads or 1
    n = max(len(reps), 1)
    comp_keys = [c[:-2] for c in task_components(batches)]
    keys = [*comp_keys, *_OVERHEADS]
    seconds = {
        "staging": phase.staging_s or 0.0,
        "startup": phase.startup_s or 0.0,
        "warmup": phase.kernel_warmup_s or 0.0,
    }
    for k in keys:
        seconds[k] = sum(rb["seconds"].get(k, 0.0) for rb in reps) / n
    busy = sum(rb["busy_slot_s"] for rb in reps)
    walls = sum(rb["wall_s"] for rb in reps)
    comp_slot = {k: sum(rb["slot_seconds"].get(k, 0.0) for rb in reps) for k in keys}
    return {
        "rows": _rows(seconds),
        "end_to_end_s": sum(seconds.values()),
        "repeat_wall_s_mean": sum(rb["wall_s"] for rb in reps) / n,
        "ideal_makespan_s_mean": sum(rb["ideal_makespan_s"] for rb in reps) / n,
        "repeats": [_repeat_summary(rb) for rb in reps],
        "slots": slots,
        "busy_slot_s": busy,
        "concurrency": busy / walls if walls > 0 else None,
        **_task_figures(reps, comp_slot),
        **_shares(comp_slot, comp_keys, busy, slots * walls if walls > 0 else 0.0),
    }
