"""breakdown.png: left, one end-to-end pass per phase (staging, start-up, read, hash,
transfers, compute, pack, overheads, idle) stacked in seconds; right, one timed repeat as
shares of its wall time."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from filerate.reports.plots.style import COLOURS, LABELS, OTHER_COLOUR, empty, png

_ONE_OFF = ("staging", "startup")
_LABEL_SHARE_PCT = 8  # shares at least this wide carry their number


def _seconds(phases: list[dict]) -> tuple[list[str], np.ndarray]:
    """The components (union over phases, in order of first appearance) and a
    phases × components matrix of seconds."""
    keys: list[str] = []
    for p in phases:
        keys += [r["component"] for r in p["breakdown"] if r["component"] not in keys]
    secs = np.array(
        [
            [next((r["seconds"] for r in p["breakdown"] if r["component"] == k), 0.0) for k in keys]
            for p in phases
        ]
    )
    return keys, secs


def _repeat_shares(keys: list[str], secs: np.ndarray) -> np.ndarray:
    """Shares of one timed repeat, in %: without the one-off staging and start-up."""
    one_off = np.array([k in _ONE_OFF for k in keys])
    inner = np.where(one_off[None, :], 0.0, secs)
    totals = inner.sum(axis=1, keepdims=True)
    return np.divide(inner * 100.0, totals, out=np.zeros_like(inner), where=totals > 0)


def _stack(ax, y, keys: list[str], data: np.ndarray, label_shares: bool) -> None:
    left = np.zeros(len(y))
    for j, k in enumerate(keys):
        ax.barh(
            y,
            data[:, j],
            left=left,
            color=COLOURS.get(k, OTHER_COLOUR),
            edgecolor="white",
            linewidth=0.4,
            label=LABELS.get(k, k),
            height=0.6,
        )
        if label_shares:
            for i in range(len(y)):
                if data[i, j] >= _LABEL_SHARE_PCT:
                    ax.text(
                        left[i] + data[i, j] / 2,
                        y[i],
                        f"{data[i, j]:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=7,
                    )
        left += data[:, j]


def breakdown_png(report: dict) -> bytes:
    """Stacked breakdown from bottlenecks.analyse's report."""
    phases = report.get("phases") or []
    if not phases:
        return empty("Time breakdown", "no phases")
    keys, secs = _seconds(phases)
    shares = _repeat_shares(keys, secs)
    fig = Figure(figsize=(13, 1.0 + 0.55 * len(phases) + 1.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(phases))
    for ax, data, xlabel in (
        (axes[0], secs, "seconds (one end-to-end pass)"),
        (axes[1], shares, "share of one timed repeat's wall time, %"),
    ):
        _stack(ax, y, keys, data, label_shares=ax is axes[1])
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_yticks(y, [p["phase"] for p in phases])
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
    return png(fig)
