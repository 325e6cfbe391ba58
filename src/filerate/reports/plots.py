"""Plots for the report (matplotlib, Agg, PNG): one figure each, multi-panel per phase.

* ``throughput.png`` — files/s per phase: median bar, min–max whiskers over the timed
  repeats, a horizontal line at each phase's target (dashed: gates). Unstable phases are
  hatched.
* ``breakdown.png`` — left: one end-to-end pass per phase (staging, start-up, read, hash,
  transfers, compute, pack, overheads, idle) stacked in seconds; right: one timed repeat
  as shares of its wall time.
* ``timeline.png`` — Gantt chart of one timed repeat (the median one) per phase: one row
  per worker thread, each task coloured by where its time went.
* ``resources.png`` — per phase, CPU %, memory, the RAM-disk footprint (staged copy plus
  growth, against the budget) and (when sampled) GPU
  utilisation and temperature over time, timed repeats shaded blue, warm-ups grey.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state) and returned as PNG
bytes; :func:`make_all` also writes them atomically.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from filerate.atomic import write_bytes
from filerate.reports.load import Phase, as_float, gpu_indices, repeat_windows, task_components

#: one colour per breakdown component (shared by breakdown and timeline)
COLOURS = {
    "staging": "#8c564b",
    "startup": "#7f7f7f",
    "read": "#1f77b4",
    "hash": "#ff7f0e",
    "h2d": "#9467bd",
    "analyse": "#2ca02c",
    "d2h": "#e377c2",
    "pack": "#bcbd22",
    "setup": "#aec7e8",
    "task_overhead": "#d62728",
    "scheduling": "#17becf",
    "idle": "#dddddd",
}
LABELS = {
    "staging": "staging",
    "startup": "start-up",
    "read": "read",
    "hash": "hash",
    "h2d": "host→device",
    "analyse": "compute (analyse)",
    "d2h": "device→host",
    "pack": "pack",
    "setup": "task setup",
    "task_overhead": "in-task overhead",
    "scheduling": "scheduling overhead",
    "idle": "idle slots",
}
NAMES = ("throughput", "breakdown", "timeline", "resources")
DPI = 100


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _empty(title: str, message: str) -> bytes:
    fig = Figure(figsize=(8, 2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _png(fig)


# ---- throughput -------------------------------------------------------------------------


def throughput_png(table: pd.DataFrame) -> bytes:
    """Bars from a throughput table (tables.build_table or tables.read_tsv)."""
    recs = table.to_dict("records")
    if not recs:
        return _empty("Throughput per phase", "no phases")
    names = [str(r["phase"]) for r in recs]
    med = np.array([as_float(r.get("files_per_s_median")) or 0.0 for r in recs])
    lo = np.array([as_float(r.get("files_per_s_min")) or m for r, m in zip(recs, med, strict=True)])
    hi = np.array([as_float(r.get("files_per_s_max")) or m for r, m in zip(recs, med, strict=True)])
    fig = Figure(figsize=(max(7.0, 1.1 * len(recs) + 3), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(recs))
    unstable = [r.get("stability") == "unstable" for r in recs]
    colours = ["#f2a93b" if u else "#1f77b4" for u in unstable]
    bars = ax.bar(x, med, color=colours, edgecolor="black", linewidth=0.6, width=0.6)
    for bar, u in zip(bars, unstable, strict=True):
        if u:
            bar.set_hatch("//")
    ax.errorbar(
        x,
        med,
        yerr=[np.maximum(med - lo, 0), np.maximum(hi - med, 0)],
        fmt="none",
        ecolor="black",
        capsize=5,
        linewidth=1.2,
    )
    positive = [v for v in list(lo) + list(hi) if v > 0]
    goals: dict[tuple[float, str], list[str]] = {}
    for r in recs:
        for key, style in (("target_files_per_s", "-"), ("gate_files_per_s", "--")):
            g = as_float(r.get(key))
            if g:
                goals.setdefault((g, style), []).append(str(r["phase"]))
                positive.append(g)
    top = max(positive) if positive else 1.0
    if positive and top / max(min(positive), 1e-9) > 30:
        ax.set_yscale("log")
        ax.set_ylim(min(positive) / 1.5, top * 2.5)
    else:
        ax.set_ylim(0, top * 1.2)
    for (g, style), phases in sorted(goals.items()):
        kind = "target" if style == "-" else "gate"
        ax.axhline(g, color="#c0392b", linestyle=style, linewidth=1.2, zorder=0)
        who = ", ".join(phases) if len(phases) <= 2 else f"{len(phases)} phases"
        ax.annotate(
            f"{kind} {g:,.0f}/s ({who})",
            xy=(1.0, g),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color="#c0392b",
            zorder=5,
            bbox={
                "boxstyle": "round,pad=0.15",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
        )
    for xi, r, m, h, u in zip(x, recs, med, hi, unstable, strict=True):
        text = (
            f"{as_float(r.get('files_per_s_min')) or 0:,.0f}–"
            f"{as_float(r.get('files_per_s_max')) or 0:,.0f}\n(unstable)"
            if u
            else f"{m:,.0f}"
        )
        ax.annotate(
            text,
            xy=(xi, max(m, h)),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(x, [_wrap(n) for n in names], fontsize=9 if len(names) > 5 else 10)
    ax.set_ylabel("files/s (median of timed repeats)")
    ax.set_title("Throughput per phase: median, whiskers min–max over repeats")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(
        handles=[
            Patch(facecolor="#1f77b4", label="stable"),
            Patch(facecolor="#f2a93b", hatch="//", label="unstable (quote range)"),
        ],
        loc="outside right upper",
        fontsize=8,
    )
    return _png(fig)


def _wrap(name: str, width: int = 12) -> str:
    """Break a long phase name at '-' or '_' so tick labels stay horizontal."""
    lines, cur = [], ""
    for part in re.split(r"(?<=[-_])", name):
        if cur and len(cur) + len(part) > width:
            lines.append(cur)
            cur = part
        else:
            cur += part
    lines.append(cur)
    return "\n".join(lines)


# ---- breakdown ----------------------------------------------------------------------


def breakdown_png(report: dict) -> bytes:
    """Stacked breakdown from bottlenecks.analyse's report."""
    phases = report.get("phases") or []
    if not phases:
        return _empty("Time breakdown", "no phases")
    keys: list[str] = []
    for p in phases:  # union over phases, in order of first appearance
        keys += [r["component"] for r in p["breakdown"] if r["component"] not in keys]
    names = [p["phase"] for p in phases]
    secs = np.array(
        [
            [next((r["seconds"] for r in p["breakdown"] if r["component"] == k), 0.0) for k in keys]
            for p in phases
        ]
    )
    # right panel: inside one timed repeat (without the one-off staging and start-up)
    one_off = np.array([k in ("staging", "startup") for k in keys])
    inner = np.where(one_off[None, :], 0.0, secs)
    totals = inner.sum(axis=1, keepdims=True)
    shares = np.divide(inner * 100.0, totals, out=np.zeros_like(inner), where=totals > 0)
    fig = Figure(figsize=(13, 1.0 + 0.55 * len(phases) + 1.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(phases))
    for ax, data, xlabel in (
        (axes[0], secs, "seconds (one end-to-end pass)"),
        (axes[1], shares, "share of one timed repeat's wall time, %"),
    ):
        left = np.zeros(len(phases))
        for j, k in enumerate(keys):
            ax.barh(
                y,
                data[:, j],
                left=left,
                color=COLOURS.get(k, "#999999"),
                edgecolor="white",
                linewidth=0.4,
                label=LABELS.get(k, k),
                height=0.6,
            )
            if ax is axes[1]:
                for i in range(len(phases)):
                    if data[i, j] >= 8:
                        ax.text(
                            left[i] + data[i, j] / 2,
                            y[i],
                            f"{data[i, j]:.0f}%",
                            ha="center",
                            va="center",
                            fontsize=7,
                        )
            left += data[:, j]
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[1].set_xlim(0, 100)
    for i, p in enumerate(phases):
        axes[0].annotate(
            f"{p['end_to_end_s']:.2f} s",
            xy=(secs[i].sum(), y[i]),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axes[0].set_title("One end-to-end pass: staging + start-up + one repeat (seconds)")
    axes[1].set_title("Inside one timed repeat (shares of its wall time)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=6, fontsize=8)
    return _png(fig)


# ---- timeline -------------------------------------------------------------------------


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


def timeline_png(phases: list[Phase]) -> bytes:
    panels = [p for p in phases if p.batches is not None]
    if not panels:
        return _empty("Task timeline", "no batches.parquet")
    heights = []
    for p in panels:
        heights.append(max(1.8, 0.9 + 0.11 * max(p.total_threads or 1, 1)))
    fig = Figure(figsize=(13, sum(heights) + 1.0), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    cols: list[str] = []
    for p in panels:
        cols += [c for c in task_components(p.batches) if c not in cols]
    # set-up first (it runs before the read), then the documented order, then the rest
    cols = [c for c in cols if c == "setup_s"] + [c for c in cols if c != "setup_s"]
    order = [c[:-2] for c in cols] + ["task_overhead"]
    for ax, ph in zip(axes, panels, strict=True):
        rep = median_repeat(ph)
        if rep is None:
            ax.set_axis_off()
            ax.set_title(f"{ph.name}: no timed repeat")
            continue
        tasks = ph.batches[ph.batches["repeat"] == rep["repeat"]]
        if "warmup" in tasks.columns:
            tasks = tasks[~tasks["warmup"].astype(bool)]
        t0 = as_float(rep.get("start"))
        if t0 is None:
            t0 = float(tasks["start"].min()) if len(tasks) else 0.0
        wall = as_float(rep.get("wall_s")) or (
            float(tasks["stop"].max()) - t0 if len(tasks) else 1.0
        )
        slot_key = (
            tasks["worker"].astype(str) + "/" + tasks["thread"].astype(str)
            if {"worker", "thread"} <= set(tasks.columns)
            else pd.Series(["slot"] * len(tasks), index=tasks.index)
        )
        slots = sorted(slot_key.unique())
        row_of = {s: i for i, s in enumerate(slots)}
        rows = slot_key.map(row_of).to_numpy(dtype=float)
        start = tasks["start"].to_numpy(dtype=float) - t0
        dur = np.clip(
            tasks["stop"].to_numpy(dtype=float) - tasks["start"].to_numpy(dtype=float), 0, None
        )
        offset = np.zeros(len(tasks))
        comp_total = np.zeros(len(tasks))
        for c in cols:
            if c in tasks.columns:
                comp_total += np.clip(
                    pd.to_numeric(tasks[c], errors="coerce").fillna(0).to_numpy(dtype=float),
                    0,
                    None,
                )
        scale = np.where(comp_total > dur, dur / np.where(comp_total > 0, comp_total, 1), 1.0)
        for key in order:
            if key == "task_overhead":
                width = np.clip(dur - offset, 0, None)
            elif f"{key}_s" not in tasks.columns:
                continue
            else:
                width = (
                    np.clip(
                        pd.to_numeric(tasks[f"{key}_s"], errors="coerce")
                        .fillna(0)
                        .to_numpy(dtype=float),
                        0,
                        None,
                    )
                    * scale
                )
            keep = width > 0
            if keep.any():
                verts = _rects(start[keep] + offset[keep], width[keep], rows[keep])
                ax.add_collection(
                    PolyCollection(
                        verts,
                        facecolors=COLOURS.get(key, "#999999"),
                        edgecolors="none",
                        linewidths=0,
                        antialiaseds=False,
                    )
                )
            offset += width
        ax.set_xlim(0, max(wall, 1e-6))
        ax.set_ylim(-0.6, max(len(slots), 1) - 0.4)
        ax.invert_yaxis()
        total = ph.total_threads or len(slots)
        step = max(1, math.ceil(len(slots) / 16))
        ax.set_yticks(
            range(0, len(slots), step),
            [_slot_labels(slots)[i] for i in range(0, len(slots), step)],
            fontsize=7,
        )
        ax.set_ylabel("worker thread")
        ax.set_title(
            f"{ph.name}: repeat {rep['repeat']}, {len(tasks)} tasks on "
            f"{len(slots)} of {total} thread slots, wall {wall:.3f} s",
            fontsize=10,
            loc="left",
        )
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("seconds since the repeat started")
    fig.legend(
        handles=[
            Patch(facecolor=COLOURS.get(k, "#999999"), label=LABELS.get(k, k.replace("_", " ")))
            for k in order
        ],
        loc="outside lower center",
        ncol=len(order),
        fontsize=8,
    )
    fig.suptitle("Task timeline of the median timed repeat, per worker thread")
    return _png(fig)


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


# ---- resources ------------------------------------------------------------------------


def resources_png(phases: list[Phase]) -> bytes:
    panels = [p for p in phases if p.resources is not None and len(p.resources)]
    if not panels:
        return _empty("Resources", "no resources.parquet")
    has_gpu = any(gpu_indices(p.resources) for p in panels)
    has_ram = any("ramdisk_used_bytes" in p.resources.columns for p in panels)
    cols = ["cpu", "mem"] + (["ramdisk"] if has_ram else []) + (["gpu"] if has_gpu else [])
    fig = Figure(figsize=(4.2 * len(cols) + 1, 2.3 * len(panels) + 0.8), layout="constrained")
    axes = fig.subplots(len(panels), len(cols), squeeze=False)
    for i, ph in enumerate(panels):
        res = ph.resources
        t = res["t"].to_numpy(dtype=float)
        t0 = t[0]
        x = t - t0
        for j, col in enumerate(cols):
            ax = axes[i, j]
            for a, b in repeat_windows(ph, timed=False):
                timed = any(abs(a - c) < 1e-9 for c, _ in repeat_windows(ph))
                ax.axvspan(
                    a - t0, b - t0, color="#cfe2f3" if timed else "#eeeeee", zorder=0, linewidth=0
                )
            if col == "cpu":
                for c in res.columns:
                    if c.startswith("cpu") and c.endswith("_pct") and c[3:-4].isdigit():
                        ax.plot(x, res[c], color="#9ecae1", linewidth=0.6)
                ax.plot(x, res["cpu_pct"], color="#08519c", linewidth=1.4, label="mean")
                ax.set_ylim(0, 105)
                ax.set_ylabel("CPU %")
                cpus = ph.cpu_count
                ax.set_title(
                    f"{ph.name}: CPU ({cpus} CPUs; thin: each CPU)", fontsize=9, loc="left"
                )
            elif col == "mem":
                for name, colour, label in (
                    ("mem_used_bytes", "#6a51a3", "machine used"),
                    ("tree_rss_bytes", "#e6550d", "filerate RSS"),
                ):
                    if name in res.columns:
                        ax.plot(x, res[name] / 2**30, color=colour, linewidth=1.2, label=label)
                ax.set_ylabel("memory, GiB")
                ax.set_ylim(bottom=0)
                ax.set_title("memory", fontsize=9, loc="left")
                ax.legend(fontsize=7, loc="lower right")
            elif col == "ramdisk":
                # the phase's footprint: its staged copy plus growth since the first sample
                # (ramdisk_used_bytes is the whole mount, shared with anything else on it)
                top = 1.0
                if "ramdisk_used_bytes" in res.columns:
                    used = pd.to_numeric(res["ramdisk_used_bytes"], errors="coerce")
                    staged = as_float((ph.staging or {}).get("occupied_bytes")) or 0.0
                    if not ph.staged:
                        staged = 0.0
                    first = used.dropna().iloc[0] if used.notna().any() else 0.0
                    foot = (staged + (used - first).clip(lower=0)) / 1e6
                    ax.plot(x, foot, color="#8c564b", linewidth=1.2)
                    top = max(top, float(foot.max()) if foot.notna().any() else 0.0)
                ax.set_ylabel("RAM disk footprint, MB")
                budget = as_float((ph.staging or {}).get("budget_bytes"))
                title = "RAM disk: staged copy + growth"
                if budget:
                    ax.axhline(budget / 1e6, color="#c0392b", linestyle="--", linewidth=1)
                    top = max(top, budget / 1e6)
                    title += f" (dashed: budget {budget / 1e6:,.0f} MB)"
                ax.set_ylim(0, top * 1.1)
                ax.set_title(title, fontsize=9, loc="left")
            elif col == "gpu":
                gids = gpu_indices(res)
                if not gids:
                    ax.text(
                        0.5,
                        0.5,
                        "no GPU sampled",
                        ha="center",
                        va="center",
                        transform=ax.transAxes,
                        fontsize=8,
                    )
                for g in gids:
                    ax.plot(x, res[f"gpu{g}_util_pct"], linewidth=1.2, label=f"GPU {g} util %")
                ax.set_ylim(0, 105)
                ax.set_ylabel("GPU utilisation %")
                ax.set_title("GPU utilisation (dotted: temperature)", fontsize=9, loc="left")
                temp = [g for g in gids if f"gpu{g}_temp_c" in res.columns]
                if temp:
                    ax2 = ax.twinx()
                    for g in temp:
                        ax2.plot(
                            x,
                            res[f"gpu{g}_temp_c"],
                            linestyle=":",
                            linewidth=1.2,
                            color="#d62728",
                            label=f"GPU {g} °C",
                        )
                    ax2.set_ylabel("°C")
                if gids:
                    ax.legend(fontsize=7, loc="lower right")
            ax.grid(alpha=0.3)
            ax.set_xlim(0, max(float(x[-1]), 1e-6))
            if i == len(panels) - 1:
                ax.set_xlabel("seconds since the phase started")
    fig.legend(
        handles=[
            Patch(facecolor="#cfe2f3", label="timed repeat"),
            Patch(facecolor="#eeeeee", label="warm-up"),
        ],
        loc="outside lower center",
        ncol=2,
        fontsize=8,
    )
    fig.suptitle("Resources during each phase")
    return _png(fig)


# ---- all ------------------------------------------------------------------------------


def make_all(
    phases: list[Phase], table: pd.DataFrame, report: dict, plots_dir: str | Path | None = None
) -> dict[str, bytes]:
    """Render the four figures; write them into ``plots_dir`` when given."""
    out = {
        "throughput": throughput_png(table),
        "breakdown": breakdown_png(report),
        "timeline": timeline_png(phases),
        "resources": resources_png(phases),
    }
    if plots_dir is not None:
        for name, data in out.items():
            write_bytes(Path(plots_dir) / f"{name}.png", data)
    return out


__all__ = [
    "make_all",
    "throughput_png",
    "breakdown_png",
    "timeline_png",
    "resources_png",
    "median_repeat",
]
