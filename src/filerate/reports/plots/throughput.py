"""throughput.png: files/s per phase on a linear axis from 0, median bar with an error bar
(the 95 % CI of the median where the run recorded one, else min–max over the timed
repeats), the floor as a marker, each phase's target (dashed: gate) as a short line over
its bar; unstable phases hatched and labelled; the legend outside the axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from filerate import fmt
from filerate.reports.load import as_float
from filerate.reports.plots.style import (
    GOAL_COLOUR,
    STABLE_COLOUR,
    UNSTABLE_COLOUR,
    empty,
    png,
    wrap,
)

_STABLE, _UNSTABLE = STABLE_COLOUR, UNSTABLE_COLOUR
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


def _scale_y(ax, values: list[float], goals: list[float]) -> float:
    """A linear axis from 0 over the bars, whiskers and floors (``values``); a goal up to
    twice as high stretches it, a goal further above is drawn off-scale (returns the top)."""
    top = max(values) if values else 1.0
    reachable = [g for g in goals if g <= 2 * top]
    top = max([top, *reachable]) * 1.2
    ax.set_ylim(0, top)
    return top


def _goal_lines(ax, x, recs: list[dict], top: float) -> list:
    """Each phase's target (solid) and gate (dashed) as a short line over its own bar;
    one beyond the axis as an arrow at the top with its value."""
    handles = {}
    for xi, r in zip(x, recs, strict=True):
        for key, style in _GOAL_STYLES:
            g = as_float(r.get(key))
            if not g:
                continue
            kind = "target" if style == "-" else "gate"
            handles[kind] = Line2D([], [], color=GOAL_COLOUR, ls=style, lw=2, label=kind)
            if g <= top:
                ax.hlines(g, xi - 0.42, xi + 0.42, colors=GOAL_COLOUR, linestyles=style, lw=2)
                continue
            ax.annotate(
                f"{kind} {fmt.num(g)} ↑",
                xy=(xi, top),
                xytext=(0, -4),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=9,
                color=GOAL_COLOUR,
            )
    return list(handles.values())


def _bar_labels(ax, x, recs: list[dict], med, hi, unstable: list[bool]) -> None:
    """The median above each bar, or the range when the phase is unstable."""
    for xi, r, m, h, u in zip(x, recs, med, hi, unstable, strict=True):
        low, high = _whisker_keys(r)
        text = fmt.num(m)
        if u and low == "files_per_s_ci_low":
            text += f"\n{fmt.interval(r[low], r[high])}\n(unstable)"
        elif u:
            text = f"{fmt.num(r.get(low))}–{fmt.num(r.get(high))}\n(unstable)"
        ax.annotate(
            text,
            xy=(xi, max(m, h)),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
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
    fig = Figure(figsize=(max(7.0, 1.1 * len(recs) + 3.5), 4.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(recs))
    unstable = [r.get("stability") == "unstable" for r in recs]
    _bars(ax, x, med, lo, hi, unstable)
    floors = [as_float(r.get("floor_files_per_s_median")) or 0.0 for r in recs]
    goals = [g for g, _style in _goals(recs)]
    top = _scale_y(ax, [v for v in [*lo, *hi, *floors] if v > 0], goals)
    goal_handles = _goal_lines(ax, x, recs, top)
    floor_handles = _floor(ax, x, recs)
    _bar_labels(ax, x, recs, med, hi, unstable)
    ax.set_xticks(x, [wrap(n) for n in names], fontsize=10 if len(names) > 5 else 11)
    ax.set_ylabel("files/s (linear, from 0)", fontsize=11)
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt.num(v))
    ax.set_title("Files/s per phase: median, error bar the 95 % CI", fontsize=12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(
        handles=[
            Patch(facecolor=_STABLE, label="stable"),
            Patch(facecolor=_UNSTABLE, hatch="//", label="unstable (CI target missed)"),
            *floor_handles,
            *goal_handles,
        ],
        loc="outside right upper",
        fontsize=10,
    )
    return png(fig)
