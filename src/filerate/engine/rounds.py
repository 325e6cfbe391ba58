"""Time-based repeats, and measurements taken in interleaved rounds.

A warm repeat is whole passes over the corpus run back to back until it has lasted
``min_repeat_s``; its files/s is the files done over its wall time, so a repeat is long
enough that fixed costs and scheduler noise are small next to it. Several measurements
(filerate and its floor; variants of a phase) are taken in rounds A, B, A, B ... so a
drift of the machine (another job starting, a thermal limit) hits all of them alike;
each stops on its own StoppingRule and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from filerate.confidence import StoppingRule, median_ci


def pass_seconds(records: list[dict]) -> list[float]:
    """Seconds per pass of each timed repeat (run.json ``repeats``; warm-up left out): a
    repeat holds ``passes`` whole passes (one when evicted or checked before each)."""
    return [r["wall_s"] / max(1, r.get("passes") or 1) for r in records if not r.get("warmup")]


@dataclass
class Pass:
    """One pass over the corpus: what it read and how long it took."""

    files_ok: int
    files_error: int
    wall_s: float
    stop: bool = False  # the pass wants the repeat to end now (it timed out)


def timed_repeat(one_pass: Callable[[int], Pass], min_repeat_s: float, clock=time.perf_counter):
    """Run ``one_pass(i)`` for i = 0, 1, ... until ``min_repeat_s`` has passed (at least
    once). Returns (passes, wall_s): wall_s spans the first pass's start to the last's end,
    so the gaps between passes count against files/s too."""
    t0 = clock()
    passes: list[Pass] = []
    while True:
        p = one_pass(len(passes))
        passes.append(p)
        wall = clock() - t0
        if p.stop or wall >= min_repeat_s:
            return passes, wall


def repeat_record(passes: list[Pass], wall_s: float) -> dict:
    """The files/s of a time-based repeat: files read whole over the repeat's wall time."""
    ok = sum(p.files_ok for p in passes)
    return {
        "passes": len(passes),
        "wall_s": wall_s,
        "files_ok": ok,
        "files_error": sum(p.files_error for p in passes),
        "files_per_s": ok / wall_s if wall_s > 0 else 0.0,
    }


@dataclass
class Series:
    """One measurement taken in rounds: ``measure(i)`` runs its i-th timed repeat and
    returns a record with ``files_per_s`` (and ``timed_out`` to stop everything)."""

    name: str
    measure: Callable[[int], dict]
    rule: StoppingRule
    records: list[dict] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    def values(self) -> list[float]:
        return [r["files_per_s"] for r in self.records]

    def summary(self) -> dict:
        """Median files/s with its 95 % CI, the repeats, and why they stopped."""
        vals = self.values()
        c = median_ci(vals) if vals else None
        return {
            "repeats": len(vals),
            "stop_reason": self.stop_reason,
            "files_per_s_median": c.median if c else None,
            "files_per_s_ci": c.as_dict() if c else None,
            "ci_target_pct": self.rule.ci_target_pct,
            "ci_target_reached": bool(c and c.reaches(self.rule.ci_target_pct)),
        }


def run_rounds(series: list[Series], clock=time.monotonic) -> list[tuple[int, str]]:
    """Rounds in which every unfinished series runs one repeat, in the given order, until
    each has stopped by its rule (elapsed time counts from the first round). A record
    with ``timed_out`` stops every series ("timeout"). Returns the (round, name) order."""
    t0 = clock()
    order: list[tuple[int, str]] = []
    rnd = 0
    while not all(s.done for s in series):
        for s in series:
            if s.done:
                continue
            rec = s.measure(len(s.records))
            s.records.append(rec)
            order.append((rnd, s.name))
            if rec.get("timed_out"):
                for other in series:
                    other.stop_reason = other.stop_reason or "timeout"
                return order
            stop, reason = s.rule.decide(s.values(), clock() - t0)
            if stop:
                s.stop_reason = reason
        rnd += 1
    return order
