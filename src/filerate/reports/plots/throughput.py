"""throughput.png: files/s per phase, median bar with min–max whiskers over the timed
repeats, a line at each phase's target (dashed: gate); unstable phases hatched."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from filerate.reports.load import as_float
from filerate.reports.plots.style import GOAL_COLOUR, empty, png, wrap

_STABLE, _UNSTABLE = "#1f77b4", "#f2a93b"
_GOAL_STYLES = (("target_files_per_s", "-"), ("gate_files_per_s", "--"))


def _bars(ax, x, med, lo, hi, unstable: list[bool]) -> None:
    colours = [_UNSTABLE if u else _STABLE for u in unstable]
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


def _goals(recs: list[dict]) -> dict[tuple[float, str], list[str]]:
    """(files/s, line style) -> the phases with that target or gate."""
    goals: dict[tuple[float, str], list[str]] = {}
    for r in recs:
        for key, style in _GOAL_STYLES:
            g = as_float(r.get(key))
            if g:
                goals.setdefault((g, style), []).append(str(r["phase"]))
    return goals


def _scale_y(ax, positive: list[float]) -> None:
    """Logarithmic when the whiskers and goals (``positive``) span more than 30×."""
    top = max(positive) if positive else 1.0
    if positive and top / max(min(positive), 1e-9) > 30:
        ax.set_yscale("log")
        ax.set_ylim(min(positive) / 1.5, top * 2.5)
    else:
        ax.set_ylim(0, top * 1.2)


def _goal_lines(ax, goals: dict[tuple[float, str], list[str]]) -> None:
    for (g, style), phases in sorted(goals.items()):
        kind = "target" if style == "-" else "gate"
        ax.axhline(g, color=GOAL_COLOUR, linestyle=style, linewidth=1.2, zorder=0)
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
            color=GOAL_COLOUR,
            zorder=5,
            bbox={
                "boxstyle": "round,pad=0.15",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
        )


def _bar_labels(ax, x, recs: list[dict], med, hi, unstable: list[bool]) -> None:
    """The median above each bar, or the range when the phase is unstable."""
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


def throughput_png(table: pd.DataFrame) -> bytes:
    """Bars from a throughput table (tables.build_table or tables.read_tsv)."""
    recs = table.to_dict("records")
    if not recs:
        return empty("Throughput per phase", "no phases")
    names = [str(r["phase"]) for r in recs]
    med = np.array([as_float(r.get("files_per_s_median")) or 0.0 for r in recs])
    lo = np.array([as_float(r.get("files_per_s_min")) or m for r, m in zip(recs, med, strict=True)])
    hi = np.array([as_float(r.get("files_per_s_max")) or m for r, m in zip(recs, med, strict=True)])
    fig = Figure(figsize=(max(7.0, 1.1 * len(recs) + 3), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(recs))
    unstable = [r.get("stability") == "unstable" for r in recs]
    _bars(ax, x, med, lo, hi, unstable)
    goals = _goals(recs)
    _scale_y(ax, [v for v in [*lo, *hi] if v > 0] + [g for g, _style in goals])
    _goal_lines(ax, goals)
    _bar_labels(ax, x, recs, med, hi, unstable)
    ax.set_xticks(x, [wrap(n) for n in names], fontsize=9 if len(names) > 5 else 10)
    ax.set_ylabel("files/s (median of timed repeats)")
    ax.set_title("Throughput per phase: median, whiskers min–max over repeats")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(
        handles=[
            Patch(facecolor=_STABLE, label="stable"),
            Patch(facecolor=_UNSTABLE, hatch="//", label="unstable (quote range)"),
        ],
        loc="outside right upper",
        fontsize=8,
    )
    return png(fig)
