"""resources.png: per phase, CPU %, memory, the RAM-disk footprint (staged copy plus
growth, against the budget) and, when sampled, GPU utilisation and temperature over
time; timed repeats shaded blue, warm-ups grey."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from filerate import fmt
from filerate.reports.load import Phase, as_float, gpu_indices, repeat_windows
from filerate.reports.plots.style import (
    GOAL_COLOUR,
    TIMED_SHADE,
    WARMUP_SHADE,
    empty,
    png,
)
from filerate.units import MB


def _shade_repeats(ax, ph: Phase, t0: float) -> None:
    timed_windows = repeat_windows(ph)
    for a, b in repeat_windows(ph, timed=False):
        timed = any(abs(a - c) < 1e-9 for c, _ in timed_windows)
        colour = TIMED_SHADE if timed else WARMUP_SHADE
        ax.axvspan(a - t0, b - t0, color=colour, zorder=0, linewidth=0)


def _cpu(ax, ph: Phase, res: pd.DataFrame, x) -> None:
    for c in res.columns:
        if c.startswith("cpu") and c.endswith("_pct") and c[3:-4].isdigit():
            ax.plot(x, res[c], color="#9ecae1", linewidth=0.6)
    ax.plot(x, res["cpu_pct"], color="#08519c", linewidth=1.4, label="mean")
    ax.set_ylim(0, 105)
    ax.set_ylabel("CPU %")
    ax.set_title(f"{ph.name}: CPU ({ph.cpu_count} CPUs; thin: each CPU)", fontsize=9, loc="left")


def _memory(ax, ph: Phase, res: pd.DataFrame, x) -> None:
    for name, colour, label in (
        ("mem_used_bytes", "#6a51a3", "machine used"),
        ("tree_rss_bytes", "#e6550d", "filerate RSS"),
    ):
        if name in res.columns:
            ax.plot(x, res[name] / 1e9, color=colour, linewidth=1.2, label=label)
    ax.set_ylabel("memory, GB (10^9 bytes)")
    ax.set_ylim(bottom=0)
    ax.set_title("memory", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="lower right")


def _ramdisk(ax, ph: Phase, res: pd.DataFrame, x) -> None:
    # the phase's footprint: its staged copy plus growth since the first sample
    # (ramdisk_used_bytes is the whole mount, shared with anything else on it)
    top = 1.0
    if "ramdisk_used_bytes" in res.columns:
        used = pd.to_numeric(res["ramdisk_used_bytes"], errors="coerce")
        staged = as_float((ph.staging or {}).get("occupied_bytes")) or 0.0
        if not ph.staged:
            staged = 0.0
        first = used.dropna().iloc[0] if used.notna().any() else 0.0
        foot = (staged + (used - first).clip(lower=0)) / MB
        ax.plot(x, foot, color="#8c564b", linewidth=1.2)
        top = max(top, float(foot.max()) if foot.notna().any() else 0.0)
    ax.set_ylabel("RAM disk footprint, MB")
    budget = as_float((ph.staging or {}).get("budget_bytes"))
    title = "RAM disk: staged copy + growth"
    if budget:
        ax.axhline(budget / MB, color=GOAL_COLOUR, linestyle="--", linewidth=1)
        top = max(top, budget / MB)
        title += f" (dashed: budget {fmt.size(budget)})"
    ax.set_ylim(0, top * 1.1)
    ax.set_title(title, fontsize=9, loc="left")


def _gpu(ax, ph: Phase, res: pd.DataFrame, x) -> None:
    gids = gpu_indices(res)
    if not gids:
        ax.text(
            0.5, 0.5, "no GPU sampled", ha="center", va="center", transform=ax.transAxes, fontsize=8
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


_PANELS = {"cpu": _cpu, "mem": _memory, "ramdisk": _ramdisk, "gpu": _gpu}


def resources_png(phases: list[Phase]) -> bytes:
    panels = [p for p in phases if p.resources is not None and len(p.resources)]
    if not panels:
        return empty("Resources", "no resources.parquet")
    has_gpu = any(gpu_indices(p.resources) for p in panels)
    has_ram = any("ramdisk_used_bytes" in p.resources.columns for p in panels)
    cols = ["cpu", "mem"] + (["ramdisk"] if has_ram else []) + (["gpu"] if has_gpu else [])
    fig = Figure(figsize=(4.2 * len(cols) + 1, 2.3 * len(panels) + 0.8), layout="constrained")
    axes = fig.subplots(len(panels), len(cols), squeeze=False)
    for i, ph in enumerate(panels):
        res = ph.resources
        t = res["t"].to_numpy(dtype=float)
        x = t - t[0]
        for j, col in enumerate(cols):
            ax = axes[i, j]
            _shade_repeats(ax, ph, t[0])
            _PANELS[col](ax, ph, res, x)
            ax.grid(alpha=0.3)
            ax.set_xlim(0, max(float(x[-1]), 1e-6))
            if i == len(panels) - 1:
                ax.set_xlabel("seconds since the phase started")
    fig.legend(
        handles=[
            Patch(facecolor=TIMED_SHADE, label="timed repeat"),
            Patch(facecolor=WARMUP_SHADE, label="warm-up"),
        ],
        loc="outside lower center",
        ncol=2,
        fontsize=8,
    )
    fig.suptitle("Resources during each phase")
    return png(fig)
