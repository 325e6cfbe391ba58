"""Latency histogram buckets and percentiles against known latencies."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from filerate.engine import latency


@numba.njit
def _fill(hist, maxima, op, values):
    for v in values:
        latency.record(hist, maxima, op, v)


def test_buckets_are_log_spaced_and_monotonic():
    assert latency.bucket(0) == 0
    assert latency.bucket(1) == 1
    assert latency.bucket(2) == 1 + latency.PER_OCTAVE
    assert latency.bucket(1024) == 1 + 10 * latency.PER_OCTAVE
    values = np.unique(np.logspace(0, 12, 5000).astype(np.int64))
    buckets = [latency.bucket(int(v)) for v in values]
    assert buckets == sorted(buckets)
    assert latency.bucket(1 << 62) == latency.NBUCKETS - 1  # clamps, never overflows


def test_every_value_lies_in_its_buckets_bounds():
    for v in (1, 3, 7, 100, 999, 12_345, 2_000_000, 987_654_321):
        low, high = latency.bucket_bounds_ns(latency.bucket(v))
        assert low <= v < high


def test_percentiles_of_known_latencies_within_a_bucket():
    hist, maxima = latency.new()
    # open: 1000 values 1..1000 us; the exact p50/p90/p99 are 500/900/990 us
    values = np.arange(1, 1001, dtype=np.int64) * 1000
    _fill(hist, maxima, latency.OPEN, values)
    s = latency.summary(hist, maxima)
    assert set(s) == {"open"}  # untimed operations are left out
    o = s["open"]
    assert o["count"] == 1000
    half = 2 ** (0.5 / latency.PER_OCTAVE)  # half a bucket: the largest error
    for q, exact in ((50, 500), (90, 900), (99, 990)):
        assert exact / half <= o[f"p{q}_us"] <= exact * half
    assert o["max_us"] == 1000.0


def test_a_long_tail_shows_in_p99_and_max_not_p50():
    hist, maxima = latency.new()
    fast = np.full(990, 2_000, dtype=np.int64)  # 2 us
    slow = np.full(10, 5_000_000, dtype=np.int64)  # 5 ms
    _fill(hist, maxima, latency.CLOSE, np.concatenate([fast, slow]))
    c = latency.summary(hist, maxima)["close"]
    assert c["p50_us"] == pytest.approx(2, rel=0.05)
    assert c["p90_us"] == pytest.approx(2, rel=0.05)
    assert c["p99_us"] == pytest.approx(2, rel=0.05)  # rank 990 of 1000 is still fast
    assert c["max_us"] == 5000.0
    _fill(hist, maxima, latency.CLOSE, slow)  # now 20 of 1010 are slow: p99 is slow
    assert latency.summary(hist, maxima)["close"]["p99_us"] == pytest.approx(5000, rel=0.05)


def test_merge_adds_counts_and_keeps_the_maximum():
    a, am = latency.new()
    b, bm = latency.new()
    _fill(a, am, latency.READ, np.array([100, 200], dtype=np.int64))
    _fill(b, bm, latency.READ, np.array([300_000], dtype=np.int64))
    h, m = latency.merge([(a, am), (b, bm)])
    assert h[latency.READ].sum() == 3
    assert m[latency.READ] == 300_000
    assert latency.quantile_ns(h[latency.OPEN], 50) is None
