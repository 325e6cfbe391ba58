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
  growth, against the budget) and (when sampled) GPU utilisation and temperature over
  time, timed repeats shaded blue, warm-ups grey.

One module per figure, ``style`` for what they share. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state) and returned as PNG bytes;
:func:`make_all` also writes them atomically.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from filerate.atomic import write_bytes
from filerate.reports.load import Phase
from filerate.reports.plots.breakdown import breakdown_png
from filerate.reports.plots.resources import resources_png
from filerate.reports.plots.throughput import throughput_png
from filerate.reports.plots.timeline import median_repeat, timeline_png

NAMES = ("throughput", "breakdown", "timeline", "resources")


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
    "NAMES",
    "make_all",
    "throughput_png",
    "breakdown_png",
    "timeline_png",
    "resources_png",
    "median_repeat",
]
