"""timeline.png: a Gantt chart of one timed repeat (the median one) per phase, one row per
worker thread, each task coloured by where its time went."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from filerate import fmt
from filerate.reports.load import Phase, as_float, task_components
from filerate.reports.plots.style import COLOURS, LABELS, OTHER_COLOUR, empty, png

_MAX_TICKS = 16  # thread labels per panel


def median_repeat(phase: Phase) -> dict | None:
    """The timed repeat whose files/s is the (lower) median."""
    reps = [r for r in phase.repeats() if as_float(r.get("files_per_s")) is not None]
    if not reps:
        reps = phase.repeats()
        return reps[0] if reps else None
    reps = sorted(reps, key=lambda r: float(r["files_per_s"]))
    return reps[(len(reps) - 1) // 2]


def _rects(x0, width, row, height=0.8):
    """(n, 4, 2) rectangle vertices for a PolyCollection."""
    x1 = x0 + width
    y0 = row - height / 2
    y1 = row + height / 2
    return np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x1, y0], 1),
            np.stack([x1, y1], 1),
            np.stack([x0, y1], 1),
        ],
        axis=1,
    )


def _slot_labels(slots: list[str]) -> list[str]:
    """'w{worker index} t{thread index within the worker}' for 'worker/thread' keys."""
    workers: dict[str, int] = {}
    threads: dict[str, dict[str, int]] = {}
    out = []
    for key in slots:
        worker, _, thread = key.rpartition("/")
        w = workers.setdefault(worker, len(workers))
        per = threads.setdefault(worker, {})
        t = per.setdefault(thread, len(per))
        out.append(f"w{w} t{t}")
    return out


def _components(panels: list[Phase]) -> list[str]:
    """The ``*_s`` columns of all panels: set-up first (it runs before the read), then the
    documented order, then the rest."""
    cols: list[str] = []
    for p in panels:
        cols += [c for c in task_components(p.batches) if c not in cols]
    return [c for c in cols if c == "setup_s"] + [c for c in cols if c != "setup_s"]


def _seconds(tasks: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(tasks[col], errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.clip(values, 0, None)


def _slots(tasks: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The worker threads ('worker/thread') that ran tasks, and each task's row."""
    slot_key = (
        tasks["worker"].astype(str) + "/" + tasks["thread"].astype(str)
        if {"worker", "thread"} <= set(tasks.columns)
        else pd.Series(["slot"] * len(tasks), index=tasks.index)
    )
    slots = sorted(slot_key.unique())
    row_of = {s: i for i, s in enumerate(slots)}
    return slots, slot_key.map(row_of).to_numpy(dtype=float)


def _draw_tasks(ax, tasks: pd.DataFrame, t0: float, rows, cols: list[str], order: list[str]):
    """Each task as consecutive rectangles, one per component (scaled to fit the task),
    the rest of the task as in-task overhead."""
    start = tasks["start"].to_numpy(dtype=float) - t0
    dur = np.clip(
        tasks["stop"].to_numpy(dtype=float) - tasks["start"].to_numpy(dtype=float), 0, None
    )
    comp_total = np.zeros(len(tasks))
    for c in cols:
        if c in tasks.columns:
            comp_total += _seconds(tasks, c)
    scale = np.where(comp_total > dur, dur / np.where(comp_total > 0, comp_total, 1), 1.0)
    offset = np.zeros(len(tasks))
    for key in order:
        if key == "task_overhead":
            width = np.clip(dur - offset, 0, None)
        elif f"{key}_s" not in tasks.columns:
            continue
        else:
            width = _seconds(tasks, f"{key}_s") * scale
        keep = width > 0
        if keep.any():
            verts = _rects(start[keep] + offset[keep], width[keep], rows[keep])
            ax.add_collection(
                PolyCollection(
                    verts,
                    facecolors=COLOURS.get(key, OTHER_COLOUR),
                    edgecolors="none",
                    linewidths=0,
                    antialiaseds=False,
                )
            )
        offset += width


def _repeat_tasks(ph: Phase, rep: dict) -> tuple[pd.DataFrame, float, float]:
    """The repeat's tasks, its start time and its wall time."""
    tasks = ph.batches[ph.batches["repeat"] == rep["repeat"]]
    if "warmup" in tasks.columns:
        tasks = tasks[~tasks["warmup"].astype(bool)]
    t0 = as_float(rep.get("start"))
    if t0 is None:
        t0 = float(tasks["start"].min()) if len(tasks) else 0.0
    wall = as_float(rep.get("wall_s")) or (float(tasks["stop"].max()) - t0 if len(tasks) else 1.0)
    return tasks, t0, wall


def _panel(ax, ph: Phase, cols: list[str], order: list[str]) -> None:
    rep = median_repeat(ph)
    if rep is None:
        ax.set_axis_off()
        ax.set_title(f"{ph.name}: no timed repeat")
        return
    tasks, t0, wall = _repeat_tasks(ph, rep)
    slots, rows = _slots(tasks)
    _draw_tasks(ax, tasks, t0, rows, cols, order)
    ax.set_xlim(0, max(wall, 1e-6))
    ax.set_ylim(-0.6, max(len(slots), 1) - 0.4)
    ax.invert_yaxis()
    total = ph.total_threads or len(slots)
    step = max(1, math.ceil(len(slots) / _MAX_TICKS))
    ax.set_yticks(
        range(0, len(slots), step),
        [_slot_labels(slots)[i] for i in range(0, len(slots), step)],
        fontsize=7,
    )
    ax.set_ylabel("worker thread")
    ax.set_title(
        f"{ph.name}: repeat {rep['repeat']}, {len(tasks)} tasks on "
        f"{len(slots)} of {total} thread slots, wall {fmt.seconds(wall)}",
        fontsize=10,
        loc="left",
    )
    ax.grid(axis="x", alpha=0.3)


def timeline_png(phases: list[Phase]) -> bytes:
    panels = [p for p in phases if p.batches is not None]
    if not panels:
        return empty("Task timeline", "no batches.parquet")
    heights = [max(1.8, 0.9 + 0.11 * max(p.total_threads or 1, 1)) for p in panels]
    fig = Figure(figsize=(13, sum(heights) + 1.0), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    cols = _components(panels)
    order = [c[:-2] for c in cols] + ["task_overhead"]
    for ax, ph in zip(axes, panels, strict=True):
        _panel(ax, ph, cols, order)
    axes[-1].set_xlabel("seconds since the repeat started")
    fig.legend(
        handles=[
            Patch(facecolor=COLOURS.get(k, OTHER_COLOUR), label=LABELS.get(k, k.replace("_", " ")))
            for k in order
        ],
        loc="outside lower center",
        ncol=len(order),
        fontsize=8,
    )
    fig.suptitle("Task timeline of the median timed repeat, per worker thread")
    return png(fig)
