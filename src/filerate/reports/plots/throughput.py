"""throughput.png: files/s per phase, median bar with whiskers (the 95 % CI of the median
where the run recorded one, else min–max over the timed repeats), the floor as a marker,
a line at each phase's target (dashed: gate); unstable phases hatched."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
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
        low, high = _whisker_keys(r)
        text = f"{m:,.0f}"
        if u and low == "files_per_s_ci_low":
            text += f"\n[{as_float(r[low]):,.0f}–{as_float(r[high]):,.0f}]\n(unstable)"
        elif u:
            text = f"{as_float(r.get(low)) or 0:,.0f}–{as_float(r.get(high)) or 0:,.0f}\n(unstable)"
        ax.annotate(
            text,
            xy=(xi, max(m, h)),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )


def _whisker_keys(r: dict) -> tuple[str, str]:
    """The CI's columns where the run recorded one, else the min and max."""
    if as_float(r.get("files_per_s_ci_low")) is not None:
        return "files_per_s_ci_low", "files_per_s_ci_high"
    return "files_per_s_min", "files_per_s_max"


def _floor(ax, x, recs: list[dict]) -> list:
    """The floor's median as a marker above each phase that measured it."""
    pts = [(xi, as_float(r.get("floor_files_per_s_median"))) for xi, r in zip(x, recs, strict=True)]
    pts = [(xi, f) for xi, f in pts if f]
    if not pts:
        return []
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="_", s=900, color="black")
    return [Line2D([], [], color="black", marker="_", ls="none", ms=14, label="floor")]


def throughput_png(table: pd.DataFrame) -> bytes:
    """Bars from a throughput table (tables.build_table or tables.read_tsv)."""
    recs = table.to_dict("records")
    if not recs:
        return empty("Throughput per phase", "no phases")
    names = [str(r["phase"]) for r in recs]
    med = np.array([as_float(r.get("files_per_s_median")) or 0.0 for r in recs])
    keys = [_whisker_keys(r) for r in recs]
    lo = np.array([as_float(r.get(k[0])) or m for r, k, m in zip(recs, keys, med, strict=True)])
    hi = np.array([as_float(r.get(k[1])) or m for r, k, m in zip(recs, keys, med, strict=True)])
    fig = Figure(figsize=(max(7.0, 1.1 * len(recs) + 3), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(recs))
    unstable = [r.get("stability") == "unstable" for r in recs]
    _bars(ax, x, med, lo, hi, unstable)
    goals = _goals(recs)
    floors = [as_float(r.get("floor_files_per_s_median")) or 0.0 for r in recs]
    _scale_y(ax, [v for v in [*lo, *hi, *floors] if v > 0] + [g for g, _style in goals])
    _goal_lines(ax, goals)
    floor_handles = _floor(ax, x, recs)
    _bar_labels(ax, x, recs, med, hi, unstable)
    ax.set_xticks(x, [wrap(n) for n in names], fontsize=9 if len(names) > 5 else 10)
    ax.set_ylabel("files/s (median of timed repeats)")
    ax.set_title("Files/s per phase: median, 95 % CI")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(
        handles=[
            Patch(facecolor=_STABLE, label="stable"),
            Patch(facecolor=_UNSTABLE, hatch="//", label="unstable (CI target missed)"),
            *floor_handles,
        ],
        loc="outside right upper",
        fontsize=8,
    )
    return png(fig)
