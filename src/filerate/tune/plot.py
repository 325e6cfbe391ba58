"""tune.png: files/s of every point in the order the search measured them (with its 95 %
CI), and files/s against memory with the Pareto front; the plan's setting as a line."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from filerate.reports.plots.style import GOAL_COLOUR, png
from filerate.units import MB


def _label(row) -> str:
    return f"{row.processes}×{row.threads_per_process} b{row.batch_size:,}"


def tune_png(frame: pd.DataFrame, plan_files_per_s: float | None, plan_name: str) -> bytes:
    fig = Figure(figsize=(13, 4.8))
    left, right = fig.subplots(1, 2)
    ok = frame[frame["files_error"].fillna(0) == 0]
    colours = [
        "#1a7f37" if b else "#1f77b4" if p else "#999999"
        for b, p in zip(ok["best"], ok["pareto"], strict=True)
    ]
    err = [
        ok["files_per_s_median"] - ok["files_per_s_ci_low"],
        ok["files_per_s_ci_high"] - ok["files_per_s_median"],
    ]
    left.errorbar(ok["point"], ok["files_per_s_median"], yerr=err, fmt="none", ecolor="#555")
    left.scatter(ok["point"], ok["files_per_s_median"], c=colours, zorder=3)
    for row in ok.itertuples():
        left.annotate(
            _label(row),
            (row.point, row.files_per_s_median),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    left.set_xlabel("point, in the order measured")
    left.set_ylabel("files/s (median, 95 % CI)")
    left.set_title("The search")
    mem = ok["rss_bytes"].astype(float) / MB
    right.scatter(mem, ok["files_per_s_median"], c=colours, zorder=3)
    front = ok[ok["pareto"]].assign(mem=mem).sort_values("mem")
    right.step(
        front["mem"],
        front["files_per_s_median"],
        where="post",
        color="#1f77b4",
        label="Pareto front (files/s vs memory, threads)",
    )
    for row in ok.itertuples():
        right.annotate(
            _label(row),
            (row.rss_bytes / MB, row.files_per_s_median),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    right.set_xlabel("memory of filerate and its workers (RSS, MB)")
    right.set_ylabel("files/s (median)")
    right.set_title("Speed against memory")
    for ax in (left, right):
        if plan_files_per_s:
            ax.axhline(
                plan_files_per_s,
                color=GOAL_COLOUR,
                linestyle="--",
                label=f"the plan's {plan_name} settings",
            )
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return png(fig)
