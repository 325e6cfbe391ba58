"""Latency histograms with log-spaced buckets, filled inside compiled loops.

A histogram is an int64 array ``(len(OPS), NBUCKETS)``: one row per operation (open,
read, close, hash, count), bucket 0 for 0 ns, then PER_OCTAVE buckets per doubling from
1 ns up to 2**OCTAVES ns (~18 minutes; longer goes in the last bucket). A bucket is
2**(1/8) ≈ 9 % wide, so a percentile read from the histogram (the bucket's geometric
middle) is within ±4.5 % of the exact one. The exact maximum is kept beside it. Merging
is adding arrays, so per-task histograms add up to a phase's without per-file Python.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from filerate.engine.records import LATENCY_OPS

OPS = LATENCY_OPS
OPEN, READ, CLOSE, HASH, COUNT = range(len(OPS))
PER_OCTAVE = 8
OCTAVES = 40
NBUCKETS = PER_OCTAVE * OCTAVES + 1
QUANTILES = (50, 90, 99)


@numba.njit(inline="always")
def bucket(ns):
    """The bucket of a duration in nanoseconds."""
    if ns < 1:
        return 0
    b = int(math.log2(float(ns)) * PER_OCTAVE) + 1
    return b if b < NBUCKETS else NBUCKETS - 1


@numba.njit(inline="always")
def record(hist, maxima, op, ns):
    """Count one duration of operation ``op``."""
    hist[op, bucket(ns)] += 1
    if ns > maxima[op]:
        maxima[op] = ns


def new() -> tuple[np.ndarray, np.ndarray]:
    """An empty histogram and its per-operation maxima (ns)."""
    return np.zeros((len(OPS), NBUCKETS), dtype=np.int64), np.zeros(len(OPS), dtype=np.int64)


def bucket_bounds_ns(b: int) -> tuple[float, float]:
    """[low, high) of bucket ``b`` in nanoseconds."""
    if b == 0:
        return 0.0, 1.0
    return 2.0 ** ((b - 1) / PER_OCTAVE), 2.0 ** (b / PER_OCTAVE)


def quantile_ns(row: np.ndarray, q: float) -> float | None:
    """The q-th percentile (0-100) of one operation's histogram row: the geometric middle
    of the bucket that holds it; None for an empty row."""
    total = int(row.sum())
    if total == 0:
        return None
    rank = max(1, math.ceil(q / 100 * total))  # the rank-th smallest value
    b = int(np.searchsorted(np.cumsum(row), rank))
    low, high = bucket_bounds_ns(b)
    return 0.0 if b == 0 else math.sqrt(low * high)


def summary(hist: np.ndarray, maxima: np.ndarray) -> dict[str, dict]:
    """Per operation: count, p50/p90/p99 and max in microseconds (ops never timed omitted)."""
    out = {}
    for op, name in enumerate(OPS):
        count = int(hist[op].sum())
        if count == 0:
            continue
        rec = {"count": count}
        for q in QUANTILES:
            rec[f"p{q}_us"] = quantile_ns(hist[op], q) / 1e3
        rec["max_us"] = float(maxima[op]) / 1e3
        out[name] = rec
    return out


def merge(parts) -> tuple[np.ndarray, np.ndarray]:
    """The sum of (hist, maxima) pairs: one phase's histogram from its tasks'."""
    hist, maxima = new()
    for h, m in parts:
        hist += np.asarray(h, dtype=np.int64)
        np.maximum(maxima, np.asarray(m, dtype=np.int64), out=maxima)
    return hist, maxima
