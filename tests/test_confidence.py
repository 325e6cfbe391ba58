"""The CI math, the stopping rule, interleaving and drift detection, on known samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from filerate import confidence as ci


@pytest.mark.parametrize(
    ("n", "ranks", "attained"),
    [
        # the classical table of distribution-free 95 % CIs for the median
        (6, (1, 6), 1 - 2 / 64),
        (8, (1, 8), 1 - 2 / 256),
        (9, (2, 8), 1 - 2 * 10 / 512),
        (10, (2, 9), 1 - 2 * 11 / 1024),
        (20, (6, 15), 0.9586105),
        (30, (10, 21), 1 - 2 * sum(math.comb(30, i) for i in range(10)) / 2**30),
    ],
)
def test_order_statistic_ranks_match_the_binomial_table(n, ranks, attained):
    j, k, got = ci.order_statistic_ranks(n)
    assert (j, k) == ranks
    assert got == pytest.approx(attained, abs=1e-6)
    assert got >= 0.95


def test_too_few_values_give_the_range_below_95_percent():
    j, k, attained = ci.order_statistic_ranks(5)
    assert (j, k) == (1, 5)
    assert attained == pytest.approx(1 - 2 / 32)
    c = ci.median_ci([5, 1, 4, 2, 3])
    assert (c.low, c.median, c.high) == (1, 3, 5)
    assert not c.reaches(1000.0)  # 93.75 % < 95 %, however narrow


def test_median_ci_on_a_known_sample():
    values = [10.0, 12, 9, 11, 30, 10.5, 9.5, 10.2, 11.5, 8]
    c = ci.median_ci(values)
    # sorted: 8 9 9.5 10 10.2 10.5 11 11.5 12 30 -> ranks 2 and 9
    assert c.median == pytest.approx(10.35)
    assert (c.low, c.high) == (9.0, 12.0)
    assert c.half_width_pct == pytest.approx((12 - 10.35) / 10.35 * 100)
    assert c.contains(10) and not c.contains(30)
    assert c.as_dict()["n"] == 10


def test_median_ci_of_a_zero_median_never_reaches_a_target():
    c = ci.median_ci([0.0] * 8)
    assert math.isinf(c.half_width_pct)
    assert not c.reaches(5)
    assert c.as_dict()["half_width_pct"] is None


def test_median_ci_covers_the_true_median_at_least_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits = sum(ci.median_ci(rng.lognormal(0, 1, 12)).contains(1.0) for _ in range(4000))
    assert hits / 4000 >= 0.94  # 0.961 exactly for n = 12; sampling error ~0.003


def test_stopping_rule_runs_the_minimum_then_stops_on_the_ci():
    rule = ci.StoppingRule(min_repeats=6, max_repeats=10, ci_target_pct=5, max_phase_s=100)
    tight = [100, 101, 99, 100, 102, 98]
    assert rule.decide(tight[:5], 1000.0) == (False, "continue")  # the minimum beats the clock
    assert rule.decide(tight, 1.0) == (True, "ci_target")


def test_stopping_rule_gives_up_at_max_repeats_or_max_phase_s():
    rule = ci.StoppingRule(min_repeats=6, max_repeats=8, ci_target_pct=5, max_phase_s=30)
    noisy = [100, 150, 60, 120, 80, 140]
    assert rule.decide(noisy, 1.0) == (False, "continue")
    assert rule.decide(noisy, 30.0) == (True, "max_phase_s")
    assert rule.decide([*noisy, 90, 130], 1.0) == (True, "max_repeats")


def test_stopping_rule_from_settings():
    rule = ci.StoppingRule.from_settings(
        {"min_repeats": 3, "max_repeats": 9, "ci_target_pct": 2.5, "max_phase_s": 12}
    )
    assert rule == ci.StoppingRule(3, 9, 2.5, 12.0)


def test_ratio_ci_is_reproducible_and_brackets_the_ratio():
    a = [200, 210, 190, 205, 195, 200]
    b = [100, 102, 98, 101, 99, 100]
    r1, r2 = ci.ratio_ci(a, b), ci.ratio_ci(a, b)
    assert r1 == r2  # fixed seed
    assert r1.ratio == pytest.approx(2.0)
    assert r1.low <= 2.0 <= r1.high
    assert r1.low > 1.8 and r1.high < 2.2


def test_ratio_ci_rejects_empty_or_zero():
    with pytest.raises(ValueError):
        ci.ratio_ci([], [1])
    with pytest.raises(ValueError):
        ci.ratio_ci([1], [0, 0])


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (1.05, 1.20, "refuted (below)"),  # +5..20 % against a predicted +50..100 %
        (2.10, 2.40, "refuted (above)"),
        (1.60, 1.90, "confirmed"),
        (1.30, 1.70, "overlaps"),  # the CI straddles the predicted low end: no verdict
    ],
)
def test_gain_verdict_needs_the_ci_to_exclude_the_other_side(low, high, verdict):
    r = ci.RatioCI((low + high) / 2, low, high, 0.95, 10)
    assert ci.gain_verdict(r, 50, 100) == verdict


def test_interleave_order():
    assert ci.interleave(["A", "B", "C"], 2) == [
        (0, "A"),
        (0, "B"),
        (0, "C"),
        (1, "A"),
        (1, "B"),
        (1, "C"),
    ]
    assert ci.interleave(["A"], 0) == []


def test_theil_sen_ignores_an_outlier():
    t = np.arange(10.0)
    y = 2 * t + 1
    y[4] = 1000
    assert ci.theil_sen_slope(t, y) == pytest.approx(2.0)


def test_drift_flags_a_leak_and_a_slowdown_but_not_noise():
    rng = np.random.default_rng(3)
    t = np.arange(60.0) * 10  # ten minutes in 10 s intervals
    flat = 1000 + rng.normal(0, 20, t.size)  # 2 % noise
    leak = 100e6 + t * 50e3  # RSS growing 30 MB over the soak
    slowdown = 1000 - t * 0.5 + rng.normal(0, 5, t.size)  # files/s down 30 %
    assert not ci.drift(t, flat, rel_tol_pct=5).drifts
    d = ci.drift(t, leak, rel_tol_pct=5)
    assert d.drifts and d.change > 0 and d.last > d.first
    s = ci.drift(t, slowdown, rel_tol_pct=5)
    assert s.drifts and s.change < 0


def test_drift_absolute_tolerance_for_counts():
    t = np.arange(30.0)
    fds = np.full(30, 12.0)
    assert not ci.drift(t, fds, rel_tol_pct=0, abs_tol=1).drifts
    fds_leak = 12 + np.floor(t / 3)  # one descriptor more every 3 intervals
    assert ci.drift(t, fds_leak, rel_tol_pct=0, abs_tol=1).drifts


def test_drift_of_a_short_series_is_no_drift():
    assert not ci.drift([0, 1], [1, 100]).drifts
