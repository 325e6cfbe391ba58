"""Time-based repeats and interleaved rounds, on a fake clock (no timed assertions)."""

from __future__ import annotations

import itertools

import pytest

from filerate.confidence import StoppingRule
from filerate.engine import rounds


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_timed_repeat_runs_whole_passes_until_min_repeat_s():
    clock = FakeClock()

    def one_pass(i):
        clock.now += 0.3
        return rounds.Pass(files_ok=100, files_error=1, wall_s=0.3)

    passes, wall = rounds.timed_repeat(one_pass, 1.0, clock)
    assert len(passes) == 4  # 0.3, 0.6, 0.9, 1.2 s
    assert wall == pytest.approx(1.2)
    rec = rounds.repeat_record(passes, wall)
    assert rec["files_ok"] == 400 and rec["files_error"] == 4 and rec["passes"] == 4
    assert rec["files_per_s"] == pytest.approx(400 / 1.2)


def test_timed_repeat_runs_at_least_one_pass_and_stops_when_asked():
    clock = FakeClock()
    calls = []

    def one_pass(i):
        calls.append(i)
        clock.now += 0.1
        return rounds.Pass(10, 0, 0.1, stop=(i == 1))

    passes, _ = rounds.timed_repeat(one_pass, 0.0, clock)
    assert len(passes) == 1
    passes, _ = rounds.timed_repeat(one_pass, 100.0, clock)
    assert len(passes) == 2  # the second pass timed out
    assert rounds.repeat_record([], 0.0)["files_per_s"] == 0.0


def _series(name, values, rule, clock, step=1.0):
    it = iter(values)

    def measure(i):
        clock.now += step
        return {"files_per_s": next(it)}

    return rounds.Series(name, measure, rule)


def test_rounds_interleave_and_each_series_stops_on_its_own_rule():
    clock = FakeClock()
    rule = StoppingRule(min_repeats=6, max_repeats=9, ci_target_pct=5, max_phase_s=1e9)
    steady = _series("A", itertools.repeat(100.0), rule, clock)
    noisy = _series("B", itertools.cycle([50.0, 150.0]), rule, clock)
    order = rounds.run_rounds([steady, noisy], clock)
    assert order[:4] == [(0, "A"), (0, "B"), (1, "A"), (1, "B")]
    assert steady.stop_reason == "ci_target" and len(steady.records) == 6
    assert noisy.stop_reason == "max_repeats" and len(noisy.records) == 9
    assert order[12:] == [(6, "B"), (7, "B"), (8, "B")]  # A done: B goes on alone
    s = steady.summary()
    assert s["ci_target_reached"] and s["files_per_s_median"] == 100.0
    assert not noisy.summary()["ci_target_reached"]


def test_rounds_stop_on_the_phase_clock():
    clock = FakeClock()
    rule = StoppingRule(min_repeats=2, max_repeats=100, ci_target_pct=0.1, max_phase_s=5)
    a = _series("A", itertools.cycle([1.0, 2.0]), rule, clock)
    rounds.run_rounds([a], clock)
    assert a.stop_reason == "max_phase_s" and len(a.records) == 5


def test_a_timed_out_repeat_stops_every_series():
    clock = FakeClock()
    rule = StoppingRule(min_repeats=3, max_repeats=3, ci_target_pct=5, max_phase_s=1e9)
    a = rounds.Series("A", lambda i: {"files_per_s": 1.0, "timed_out": i == 1}, rule)
    b = _series("B", itertools.repeat(1.0), rule, clock)
    order = rounds.run_rounds([a, b], clock)
    assert order == [(0, "A"), (0, "B"), (1, "A")]
    assert a.stop_reason == b.stop_reason == "timeout"
    assert rounds.Series("C", lambda i: {}, rule).summary()["files_per_s_median"] is None
