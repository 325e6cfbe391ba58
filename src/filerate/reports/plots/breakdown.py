"""breakdown.png: left, per phase the set-up of one real pass (staging, cluster start-up,
kernel warm-up) and then one timed repeat, stacked in wall seconds; right, inside one
timed repeat, the shares of the time spent inside tasks (read, hash, compute, ...;
device transfers only on GPU runs), with how busy the CPUs were written beside each bar."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from filerate import fmt
from filerate.reports.bottlenecks import story
from filerate.reports.bottlenecks.accounting import SETUP
from filerate.reports.plots.style import COLOURS, LABELS, OTHER_COLOUR, empty, png

_REPEAT_COLOUR = "#0072B2"
_LABEL_SHARE_PCT = 8  # shares at least this wide carry their number


def _setup_seconds(phases: list[dict]) -> tuple[list[str], np.ndarray]:
    """(set-up components then "repeat", phases × those, in wall seconds)."""
    keys = [*SETUP, "repeat"]
    rows = []
    for p in phases:
        secs = {r["component"]: r["seconds"] for r in p["breakdown"]}
        rows.append([secs.get(k, 0.0) for k in SETUP] + [story.repeat_s(p)])
    return keys, np.array(rows, dtype=float)


def _task_shares(phases: list[dict]) -> tuple[list[str], np.ndarray]:
    """(task-time components, phases × their % of task time); transfers only on GPU."""
    keys: list[str] = []
    gpu = any(p.get("backend") == "gpu" for p in phases)
    for p in phases:
        for k in p.get("busy_share_pct") or {}:
            if k not in keys and (gpu or k not in story.DEVICE_COMPONENTS):
                keys.append(k)
    data = [[(p.get("busy_share_pct") or {}).get(k, 0.0) for k in keys] for p in phases]
    return keys, np.array(data, dtype=float).reshape(len(phases), len(keys))


def _stack(ax, y, keys: list[str], data: np.ndarray, label_shares: bool) -> None:
    left = np.zeros(len(y))
    for j, k in enumerate(keys):
        colour = _REPEAT_COLOUR if k == "repeat" else COLOURS.get(k, OTHER_COLOUR)
        ax.barh(y, data[:, j], left=left, color=colour, edgecolor="white", lw=0.6, height=0.6)
        for i in range(len(y)):
            if label_shares and data[i, j] >= _LABEL_SHARE_PCT:
                dark = colour.lower() in ("#000000", "#0072b2", "#555555", "#8e3b6e", "#8c6d31")
                ax.text(
                    left[i] + data[i, j] / 2,
                    y[i],
                    fmt.pct(data[i, j]),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if dark else "black",
                )
        left += data[:, j]


def _legend(ax, keys: list[str]) -> None:
    """Below the axes, outside the data."""
    handles = [
        Patch(
            facecolor=_REPEAT_COLOUR if k == "repeat" else COLOURS.get(k, OTHER_COLOUR),
            label="one timed repeat" if k == "repeat" else LABELS.get(k, k.replace("_", " ")),
        )
        for k in keys
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, fontsize=10)


def breakdown_png(report: dict) -> bytes:
    """Set-up and task-time breakdown from bottlenecks.analyse's report."""
    phases = report.get("phases") or []
    if not phases:
        return empty("Time breakdown", "no phases")
    setup_keys, secs = _setup_seconds(phases)
    task_keys, shares = _task_shares(phases)
    fig = Figure(figsize=(13, 3.2 + 0.6 * len(phases)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(phases))
    _stack(axes[0], y, setup_keys, secs, label_shares=False)
    _stack(axes[1], y, task_keys, shares, label_shares=True)
    for i, p in enumerate(phases):
        axes[0].annotate(
            fmt.seconds(p["end_to_end_s"]),
            xy=(secs[i].sum(), y[i]),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=10,
        )
        idle = story.cpu_idle_pct(p)
        cpus = f"CPUs {fmt.pct(100 - idle)} busy" if idle is not None else "CPU not sampled"
        axes[1].annotate(
            cpus,
            xy=(100, y[i]),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=10,
            annotation_clip=False,
        )
    axes[0].set_yticks(y, [p["phase"] for p in phases], fontsize=11)
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, secs.sum(axis=1).max() * 1.18 or 1.0)
    axes[1].set_xlim(0, 100)
    axes[0].set_xlabel("wall seconds", fontsize=11)
    axes[1].set_xlabel("% of the time inside tasks (thread-slot time)", fontsize=11)
    axes[0].set_title("Set-up, then one timed repeat (wall seconds)", fontsize=12)
    axes[1].set_title("Inside one timed repeat: where task time went", fontsize=12)
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    _legend(axes[0], setup_keys)
    _legend(axes[1], task_keys)
    return png(fig)
