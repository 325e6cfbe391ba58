"""The search: coordinate-wise hill climbing over a grid of settings, with few measurements.

Pure: it knows settings (``Point``), the grid of each knob and a ``measure`` callback that
returns a files/s median with its confidence interval; it never starts a cluster, so the
tests drive it with a synthetic objective.

From a start point, the neighbours (one grid step up or down on one knob) are measured in
the order the start point's time breakdown suggests (``knob_order``); the first one that is
better beyond the confidence intervals (its CI's low end above the current point's high
end) becomes the new current point. The search stops when every neighbour of the current
point has been measured and none is better beyond the CIs ("converged": their intervals
overlap the best or lie below it), or when the time budget cannot fit another point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from filerate.confidence import StoppingRule

#: the knobs, in the order points are written
KNOBS = ("processes", "threads", "batch_size", "gpu_memory_gb")
#: repeats a point needs before it may be dropped as worse than the best
DOMINATED_AFTER = 3


@dataclass(frozen=True, order=True)
class Point:
    """One setting: worker processes x threads per process, files per task, and (GPU only)
    the device-buffer budget per thread in GiB."""

    processes: int
    threads: int
    batch_size: int
    gpu_memory_gb: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def label(self) -> str:
        gpu = f", {self.gpu_memory_gb:g} GiB/thread" if self.gpu_memory_gb else ""
        return f"{self.processes} × {self.threads} threads, batch {self.batch_size:,}{gpu}"


@dataclass
class Measured:
    """What measuring a point gave: the median files/s and its CI, and the hints."""

    point: Point
    median: float
    low: float
    high: float
    extra: dict = field(default_factory=dict)  # repeats, stop reason, RSS, breakdown ...

    @property
    def ok(self) -> bool:
        """Every file of every repeat read without error (else it cannot be the best)."""
        return not self.extra.get("files_error")

    def beats(self, other: Measured) -> bool:
        """Better beyond the confidence intervals: they do not overlap."""
        return self.low > other.high


@dataclass(frozen=True)
class Grid:
    """The values each knob may take, sorted; a knob with one value is not searched."""

    processes: tuple[int, ...]
    threads: tuple[int, ...]
    batch_size: tuple[int, ...]
    gpu_memory_gb: tuple[float | None, ...] = (None,)

    def size(self) -> int:
        n = 1
        for knob in KNOBS:
            n *= len(getattr(self, knob))
        return n

    def neighbours(self, p: Point, order: tuple[str, ...] = KNOBS) -> list[Point]:
        """One grid step up and down on each knob, knobs in ``order`` (up first)."""
        out = []
        for knob in order:
            values = getattr(self, knob)
            i = values.index(getattr(p, knob))
            for j in (i + 1, i - 1):
                if 0 <= j < len(values):
                    out.append(replace(p, **{knob: values[j]}))
        return out

    def nearest(self, knob: str, value: float):
        """The grid value of ``knob`` nearest to ``value`` (ratio-wise: the grid is geometric)."""
        values = getattr(self, knob)
        return min(values, key=lambda v: max(v, value) / max(min(v, value), 1e-12))


def knob_order(hints: dict) -> tuple[str, ...]:
    """Which knob to move first, from the current point's time breakdown.

    Idle thread slots (tasks short next to scheduling) call for bigger batches first; busy
    slots with CPU to spare call for more threads (more reads in flight); a saturated CPU
    calls for trading threads (fewer contend for the cores) before batch size. Processes
    come last: a new process count needs a new cluster, whose start-up costs more than a
    point where the machine is loaded.
    """
    slots = hints.get("slot_utilisation")
    cpu = hints.get("cpu_busy")
    if slots is not None and slots < 0.75:
        return ("batch_size", "threads", "gpu_memory_gb", "processes")
    if cpu is not None and cpu < 0.9:
        return ("threads", "batch_size", "gpu_memory_gb", "processes")
    return ("threads", "gpu_memory_gb", "batch_size", "processes")


@dataclass
class DominatedRule:
    """The point's own StoppingRule, plus: stop early once DOMINATED_AFTER repeats are all
    below the low end of the best point's CI (the point cannot be the best; its interval
    is then the range of those repeats, at lower confidence)."""

    rule: StoppingRule
    best_low: float | None = None

    @property
    def ci_target_pct(self) -> float:
        return self.rule.ci_target_pct

    def decide(self, values, elapsed_s: float) -> tuple[bool, str]:
        enough = self.best_low is not None and len(values) >= DOMINATED_AFTER
        if enough and max(values) < self.best_low:
            return True, "below_best"
        return self.rule.decide(values, elapsed_s)


@dataclass
class Outcome:
    points: list[Measured]  # in the order measured
    best: Measured | None  # None when no point read every file
    stop_reason: str  # "converged", "budget" or "grid_exhausted"
    path: list[Point]  # the current point after each move


class Search:
    """Hill climbing on ``grid`` from ``start``; ``measure(point, best)`` measures one point
    (``best``: the best Measured so far or None, for early stopping). A point is never
    measured twice. The budget is checked before each point, against the longest point so
    far (a point that cannot finish in time is not started)."""

    def __init__(
        self,
        grid: Grid,
        measure: Callable[[Point, Measured | None], Measured],
        budget_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_point: Callable[[Measured, int], None] | None = None,
    ):
        self.grid, self.measure, self.clock = grid, measure, clock
        self.deadline = clock() + budget_s
        self.on_point = on_point or (lambda m, i: None)
        self.seen: dict[Point, Measured] = {}
        self.longest_s = 0.0

    def _fits(self) -> bool:
        return self.clock() + self.longest_s <= self.deadline

    def _take(self, p: Point) -> Measured:
        t0 = self.clock()
        m = self.measure(p, self.best())
        self.longest_s = max(self.longest_s, self.clock() - t0)
        self.seen[p] = m
        self.on_point(m, len(self.seen))
        return m

    def best(self) -> Measured | None:
        return max((m for m in self.seen.values() if m.ok), key=lambda m: m.median, default=None)

    def run(self, start: Point) -> Outcome:
        current = self._take(start)
        path = [start]
        while True:
            moved, budget_left = self._step(current)
            if moved is None:
                reason = "converged" if budget_left else "budget"
                if budget_left and len(self.seen) == self.grid.size():
                    reason = "grid_exhausted"
                return Outcome(list(self.seen.values()), self.best(), reason, path)
            current = moved
            path.append(moved.point)

    def _step(self, current: Measured) -> tuple[Measured | None, bool]:
        """Measure current's neighbours until one beats it: (that one or None, whether the
        budget allowed every neighbour to be looked at)."""
        for p in self.grid.neighbours(current.point, knob_order(current.extra)):
            m = self.seen.get(p)
            if m is None:
                if not self._fits():
                    return None, False
                m = self._take(p)
            if m.ok and m.beats(current):
                return m, True
        return None, True
