"""Summary statistics shared by the engine (run.json) and the reports."""

from __future__ import annotations

import statistics


def cv_pct(values) -> float | None:
    """Coefficient of variation in percent (population standard deviation / mean); None for
    fewer than two values or a zero mean."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return None
    mean = statistics.mean(values)  # exactly rounded, as run.json has always used
    if mean == 0:
        return None
    return statistics.pstdev(values) / mean * 100.0


def timed_files_per_s(run: dict) -> list[float]:
    """The files/s of a run.json's timed repeats (warm-ups left out), in order. A repeat at
    0 files/s stays: run.json's median counts it too (engine.process), so the reports, the
    tables and ``filerate compare`` all work on the same values. Missing, non-numeric and
    NaN values are left out."""
    out = []
    for rep in run.get("repeats") or []:
        value = rep.get("files_per_s")
        if rep.get("warmup") or value is None or isinstance(value, bool):
            continue
        try:
            f = float(value)
        except (TypeError, ValueError):
            continue
        if f == f:
            out.append(f)
    return out
