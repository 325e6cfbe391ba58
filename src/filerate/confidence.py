"""Confidence intervals and the rules that decide how many repeats a measurement needs.

- ``median_ci``: the distribution-free confidence interval of a median, from order
  statistics and the binomial distribution (the interval pytest-benchmark and asv quote);
  it needs no assumption about the shape of the timing distribution, only independent
  repeats. With fewer than 6 values no interval reaches 95 %: the widest one (min, max)
  is returned with the confidence it does reach.
- ``StoppingRule``: repeat until the median's CI is within ±ci_target_pct of the median,
  or until max_repeats / max_phase_s.
- ``ratio_ci``: the CI of median(a) / median(b) by a bootstrap with a fixed seed (the
  same data always give the same interval).
- ``interleave``: the order A, B, C, A, B, C ... so drift hits every variant alike.
- ``drift``: whether a soak series (files/s, memory, descriptors ...) trends, from the
  Theil–Sen slope and the first- and last-third medians.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

import numpy as np

LEVEL = 0.95
#: fewest values whose median CI reaches 95 % (1 - 2 * 0.5**6 = 96.9 %)
MIN_VALUES_FOR_95 = 6


@dataclass(frozen=True)
class MedianCI:
    median: float
    low: float
    high: float
    n: int
    level: float  # the confidence asked for
    attained: float  # the confidence the interval has (>= level when n allows it)

    @property
    def half_width_pct(self) -> float:
        """The larger distance from the median to an end, in % of the median (inf at 0)."""
        if self.median == 0:
            return math.inf
        return max(self.median - self.low, self.high - self.median) / abs(self.median) * 100

    def reaches(self, target_pct: float) -> bool:
        """True when the interval has the asked confidence and lies within ±target_pct."""
        return self.attained >= self.level and self.half_width_pct <= target_pct

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict:
        return {**asdict(self), "half_width_pct": _finite(self.half_width_pct)}


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _binom_cdf_half(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), exactly (integers until the division)."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n


def order_statistic_ranks(n: int, level: float = LEVEL) -> tuple[int, int, float]:
    """1-based ranks (j, n + 1 - j) of the median's CI and the confidence they attain.

    j is the largest rank with P(B <= j - 1) <= (1 - level) / 2, B ~ Binomial(n, 1/2);
    the interval [x_(j), x_(n+1-j)] then covers the median with probability
    1 - 2 P(B <= j - 1). Where no j qualifies (small n), j = 1: the range.
    """
    if n < 1:
        raise ValueError("a confidence interval needs at least one value")
    tail = (1.0 - level) / 2.0
    j = 1
    while j + 1 <= (n + 1) // 2 and _binom_cdf_half(j, n) <= tail:
        j += 1
    attained = 1.0 - 2.0 * _binom_cdf_half(j - 1, n) if n > 1 else 0.0
    return j, n + 1 - j, attained


def median_ci(values, level: float = LEVEL) -> MedianCI:
    """The median of ``values`` and its distribution-free confidence interval."""
    xs = sorted(float(v) for v in values)
    if not xs:
        raise ValueError("a confidence interval needs at least one value")
    j, k, attained = order_statistic_ranks(len(xs), level)
    return MedianCI(statistics.median(xs), xs[j - 1], xs[k - 1], len(xs), level, attained)


@dataclass(frozen=True)
class StoppingRule:
    """When to stop repeating a measurement (see docs/PERFORMANCE.md)."""

    min_repeats: int = 6
    max_repeats: int = 30
    ci_target_pct: float = 5.0
    max_phase_s: float = 60.0

    def decide(self, values, elapsed_s: float) -> tuple[bool, str]:
        """(stop, reason) after the repeats in ``values`` took ``elapsed_s`` seconds.

        reason is ``ci_target`` (the CI is within target), ``max_repeats``,
        ``max_phase_s`` or ``continue``. The minimum is always run, whatever the clock.
        """
        n = len(values)
        if n < self.min_repeats:
            return False, "continue"
        if median_ci(values).reaches(self.ci_target_pct):
            return True, "ci_target"
        if n >= self.max_repeats:
            return True, "max_repeats"
        if elapsed_s >= self.max_phase_s:
            return True, "max_phase_s"
        return False, "continue"

    @classmethod
    def from_settings(cls, settings: dict) -> StoppingRule:
        return cls(
            min_repeats=int(settings["min_repeats"]),
            max_repeats=int(settings["max_repeats"]),
            ci_target_pct=float(settings["ci_target_pct"]),
            max_phase_s=float(settings["max_phase_s"]),
        )


@dataclass(frozen=True)
class RatioCI:
    ratio: float
    low: float
    high: float
    level: float
    resamples: int

    def as_dict(self) -> dict:
        return asdict(self)


def ratio_ci(a, b, level: float = LEVEL, resamples: int = 4000, seed: int = 0) -> RatioCI:
    """median(a) / median(b) with a percentile-bootstrap CI (fixed seed: reproducible).

    Each resample draws len(a) values of a and len(b) values of b with replacement.
    """
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        raise ValueError("a ratio needs values on both sides")
    if np.median(xb) == 0:
        raise ValueError("the denominator's median is 0")
    rng = np.random.default_rng(seed)
    ma = np.median(xa[rng.integers(0, xa.size, (resamples, xa.size))], axis=1)
    mb = np.median(xb[rng.integers(0, xb.size, (resamples, xb.size))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = ma / mb
    ratios = ratios[np.isfinite(ratios)]
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return RatioCI(float(np.median(xa) / np.median(xb)), float(lo), float(hi), level, resamples)


def gain_verdict(ci: RatioCI, predicted_low_pct: float, predicted_high_pct: float) -> str:
    """Compare a measured gain (ratio CI) with a predicted gain range in percent.

    ``confirmed``: the CI lies inside the predicted range; ``refuted (below)`` /
    ``refuted (above)``: the CI excludes the whole range; ``overlaps``: the CI and
    the range overlap only in part, so the data decide nothing; a verdict needs the CI
    to exclude the other side.
    """
    low, high = 1 + predicted_low_pct / 100, 1 + predicted_high_pct / 100
    if ci.high < low:
        return "refuted (below)"
    if ci.low > high:
        return "refuted (above)"
    if low <= ci.low and ci.high <= high:
        return "confirmed"
    return "overlaps"


def interleave(variants, rounds: int) -> list[tuple[int, object]]:
    """(round, variant) pairs in the order A, B, C, A, B, C ... for ``rounds`` rounds."""
    return [(r, v) for r in range(rounds) for v in variants]


@dataclass(frozen=True)
class Drift:
    slope_per_s: float  # Theil–Sen
    change: float  # slope x duration: the trend's total change over the series
    first: float  # median of the first third
    last: float  # median of the last third
    drifts: bool

    def as_dict(self) -> dict:
        return asdict(self)


def theil_sen_slope(t, y) -> float:
    """The median of all pairwise slopes (robust to outliers); 0 for fewer than 2 points."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    i, j = np.triu_indices(t.size, k=1)
    dt = t[j] - t[i]
    ok = dt != 0
    if not ok.any():
        return 0.0
    return float(np.median((y[j] - y[i])[ok] / dt[ok]))


def drift(t, y, rel_tol_pct: float = 5.0, abs_tol: float = 0.0) -> Drift:
    """Whether the series y(t) drifts: the trend's total change and the change from the
    first to the last third both exceed the tolerance (max of abs_tol and rel_tol_pct %
    of the first third's median), in the same direction. A noisy but flat series does
    not drift; a steady climb (a leak) or a steady slowdown does."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.size < 3:
        return Drift(0.0, 0.0, float(np.median(y)) if y.size else 0.0, 0.0, False)
    third = max(1, t.size // 3)
    first, last = float(np.median(y[:third])), float(np.median(y[-third:]))
    slope = theil_sen_slope(t, y)
    change = slope * float(t[-1] - t[0])
    tol = max(abs_tol, abs(first) * rel_tol_pct / 100)
    step = last - first
    drifts = abs(change) > tol and abs(step) > tol and (change > 0) == (step > 0)
    return Drift(slope, change, first, last, bool(drifts))
