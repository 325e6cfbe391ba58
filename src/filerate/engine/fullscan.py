"""`full` analysis on the CPU: a 256-bin byte histogram and a MinHash signature per file.

Runs on the batch buffer batchio already filled (file i at ``buf[offsets[i]:][:lengths[i]]``),
in one compiled (numba, nogil) pass per file, so worker threads run it in parallel.

The hash family is fixed so the GPU kernels (engine.gpu_full) give bit-identical results:

- shingles are byte n-grams of ``shingle_bytes`` bytes at every offset (a file shorter
  than that is one shingle: the whole file; an empty file has none);
- a shingle's hash is 32-bit FNV-1a over its bytes;
- hash function h maps a shingle hash x to ``(a[h] * x + b[h]) mod 2^64 >> 32`` (the
  multiply-add-shift family), with a[h] odd and both drawn from a fixed seed;
- signature[h] is the minimum over the file's shingles (0xFFFFFFFF: no shingles).

Entropy (bits per byte) is computed from the histogram by :func:`entropy`, on the host,
the same way for both backends.
"""

from __future__ import annotations

import functools
import time

import numba
import numpy as np
from numba import uint64

from filerate.engine import libc

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
MASK32 = 0xFFFFFFFF
NO_SHINGLES = np.uint32(MASK32)  # the signature value of a file with no shingles
PERMUTATION_SEED = 0x5EED_F11E  # fixed: signatures are comparable across runs and machines

_clock_gettime = libc.clock_gettime
_CLOCK_MONOTONIC = time.CLOCK_MONOTONIC


@functools.lru_cache(maxsize=8)
def permutations(hashes: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) uint64 coefficients of the ``hashes`` hash functions (a odd); made once
    per size and shared by every batch of the process: never write to them (they stay
    writable because numba compiles a separate specialisation for read-only arrays)."""
    rng = np.random.Generator(np.random.PCG64(PERMUTATION_SEED))
    ab = rng.integers(0, 2**64, size=(2, hashes), dtype=np.uint64, endpoint=False)
    return ab[0] | np.uint64(1), ab[1].copy()


@numba.njit(inline="always")
def _now_ns(ts):
    _clock_gettime(_CLOCK_MONOTONIC, ts.ctypes.data)  # through the vDSO, no GIL
    return ts[0] * 1_000_000_000 + ts[1]


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _shingle_hashes(buf, start, length, k, out):
    """32-bit FNV-1a of each shingle of one file into ``out``; returns how many.

    Byte j of every shingle is folded in one pass over the shingles, so the inner loop
    is independent per shingle (vectorised) rather than one long dependency chain."""
    if length <= 0:
        return 0
    width = min(k, length)
    m = length - width + 1
    for p in range(m):
        out[p] = np.uint32(FNV_OFFSET)
    for j in range(width):
        first = start + j
        for p in range(m):
            out[p] = (out[p] ^ buf[first + p]) * np.uint32(FNV_PRIME)
    return m


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _minhash(xs, m, a, b, sig, i):
    """signature[h] = min over the m shingle hashes of (a[h] * x + b[h]) >> 32."""
    for h in range(a.shape[0]):
        ah = a[h]
        bh = b[h]
        best = uint64(MASK32)
        for p in range(m):
            v = (ah * uint64(xs[p]) + bh) >> uint64(32)
            if v < best:
                best = v
        sig[i, h] = best


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _full_batch(buf, offsets, lengths, k, a, b, hist, sig, spent):
    """Histogram and signature of every file with a length > 0 (others: zeros, all-ones).

    ``spent`` accumulates nanoseconds in [histogram, shingle hashing, MinHash]."""
    longest = 1
    for i in range(lengths.shape[0]):
        longest = max(longest, lengths[i])
    xs = np.empty(longest, dtype=np.uint32)
    ts = np.zeros(2, dtype=np.int64)
    for i in range(lengths.shape[0]):
        start = offsets[i]
        n = lengths[i]
        t0 = _now_ns(ts)
        for j in range(start, start + n):
            hist[i, buf[j]] += 1
        t1 = _now_ns(ts)
        m = _shingle_hashes(buf, start, n, k, xs)
        t2 = _now_ns(ts)
        _minhash(xs, m, a, b, sig, i)
        spent[0] += t1 - t0
        spent[1] += t2 - t1
        spent[2] += _now_ns(ts) - t2


class FullResult:
    """Per-file arrays of ``full`` analysis for one batch."""

    def __init__(self, n: int, hashes: int):
        self.hist = np.zeros((n, 256), dtype=np.uint32)
        self.sig = np.full((n, hashes), NO_SHINGLES, dtype=np.uint32)
        self.spent_ns = np.zeros(3, dtype=np.int64)  # histogram, shingling, MinHash


def full_batch(
    buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, shingle_bytes: int, hashes: int
) -> FullResult:
    """Histograms and MinHash signatures of the files in ``buf`` (length 0: skipped)."""
    a, b = permutations(hashes)
    res = FullResult(len(lengths), hashes)
    _full_batch(
        buf,
        np.ascontiguousarray(offsets, dtype=np.int64),
        np.ascontiguousarray(lengths, dtype=np.int64),
        int(shingle_bytes),
        a,
        b,
        res.hist,
        res.sig,
        res.spent_ns,
    )
    return res


def entropy(hist: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits per byte of each histogram row (0 for an empty file)."""
    counts = hist.astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return -(p * logs).sum(axis=1) + 0.0  # + 0.0: no negative zero


def warm_up() -> None:
    """Compile the kernel in this process."""
    buf = np.frombuffer(b"warm up!" * 2, dtype=np.uint8).copy()
    full_batch(buf, np.array([0]), np.array([9]), 5, 4)
