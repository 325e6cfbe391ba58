"""Shingle sets for verifying candidate pairs, and LSH band keys of MinHash signatures.

The shingle hashes here are the ones engine.fullscan computes (32-bit FNV-1a over byte
n-grams): the verified Jaccard is exact over those hash sets. ``shingle_set`` and
``jaccard`` do one file or pair (the reference); ``shingle_sets`` and ``common_counts`` do a
whole batch in compiled loops (the verification step's path).
"""

from __future__ import annotations

import numba
import numpy as np

from filerate.engine.fullscan import FNV_OFFSET, FNV_PRIME, _shingle_hashes

_BAND_PRIME = np.uint64(0x100000001B3)  # FNV-64 prime: mixes a band's rows into one key
_BAND_SEED = np.uint64(0xCBF29CE484222325)


def shingle_set(data: bytes, k: int) -> np.ndarray:
    """Sorted distinct 32-bit FNV-1a hashes of the ``k``-byte shingles of ``data`` (a
    shorter file is one shingle; an empty one has none)."""
    arr = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint32)
    width = min(k, len(arr))
    m = len(arr) - width + 1
    h = np.full(m, FNV_OFFSET, dtype=np.uint32)
    for j in range(width):
        h = (h ^ arr[j : j + m]) * np.uint32(FNV_PRIME)  # uint32 wraps: mod 2^32
    return np.unique(h)


@numba.njit(nogil=True, cache=True)
def _common(a, b):
    """How many values two sorted distinct arrays share (one merge pass)."""
    i = j = n = 0
    while i < a.shape[0] and j < b.shape[0]:
        if a[i] == b[j]:
            n += 1
            i += 1
            j += 1
        elif a[i] < b[j]:
            i += 1
        else:
            j += 1
    return n


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a | b| of two sorted distinct arrays (1.0 when both are empty)."""
    inter = _common(a, b)
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _radix_sort(values, scratch):
    """Sort uint32 ``values`` in place: 4 passes of 8 bits (linear; numba's quicksort is
    ~10x slower on the shingle hashes of one file)."""
    count = np.zeros(256, dtype=np.int64)
    src, dst = values, scratch[: values.shape[0]]
    for shift in range(0, 32, 8):
        count[:] = 0
        for p in range(src.shape[0]):
            count[(src[p] >> shift) & 255] += 1
        total = 0
        for d in range(256):
            c = count[d]
            count[d] = total
            total += c
        for p in range(src.shape[0]):
            d = (src[p] >> shift) & 255
            dst[count[d]] = src[p]
            count[d] += 1
        src, dst = dst, src  # after an even number of passes the result is in ``values``


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _shingle_sets(buf, offsets, lengths, k, out, starts, counts):
    longest = 1
    for i in range(lengths.shape[0]):
        longest = max(longest, lengths[i])
    scratch = np.empty(longest, dtype=np.uint32)
    pos = 0
    for i in range(lengths.shape[0]):
        m = _shingle_hashes(buf, offsets[i], lengths[i], k, out[pos:])
        seg = out[pos : pos + m]
        _radix_sort(seg, scratch)
        distinct = 0
        for p in range(m):
            if p == 0 or seg[p] != seg[p - 1]:
                seg[distinct] = seg[p]
                distinct += 1
        starts[i] = pos
        counts[i] = distinct
        pos += distinct  # the next file's hashes overwrite this one's duplicates


def shingle_sets(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, k: int):
    """(values, starts, counts): file i's sorted distinct shingle hashes (as ``shingle_set``)
    are ``values[starts[i]:][:counts[i]]``, for every file in ``buf``. ``values`` is sized
    for the worst case (every shingle distinct) but only the pages its sets reach are
    written, so memory follows the distinct shingles."""
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    out = np.empty(max(1, int(lengths.sum())), dtype=np.uint32)
    starts = np.zeros(len(lengths), dtype=np.int64)
    counts = np.zeros(len(lengths), dtype=np.int64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    _shingle_sets(buf, offsets, lengths, int(k), out, starts, counts)
    return out, starts, counts


@numba.njit(nogil=True, boundscheck=False, cache=True)
def common_counts(values, starts, counts, a, b):
    """For each pair (a[q], b[q]) of files: how many shingle hashes their sets share."""
    out = np.zeros(a.shape[0], dtype=np.int64)
    for q in range(a.shape[0]):
        i, j = starts[a[q]], starts[b[q]]
        out[q] = _common(values[i : i + counts[a[q]]], values[j : j + counts[b[q]]])
    return out


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """files x bands uint64 keys: equal keys mean equal rows in that band (and the band's
    index is mixed in, so keys of different bands never meet in one bucket by design)."""
    n = sig.shape[0]
    parts = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    keys = np.broadcast_to(_BAND_SEED ^ np.arange(bands, dtype=np.uint64), (n, bands)).copy()
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys = (keys ^ parts[:, :, r]) * _BAND_PRIME
        keys ^= keys >> np.uint64(29)
    return keys
