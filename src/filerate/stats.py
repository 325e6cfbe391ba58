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
