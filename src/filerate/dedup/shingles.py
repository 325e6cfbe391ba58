"""Shingle sets for verifying candidate pairs, and LSH band keys of MinHash signatures.

The shingle hashes here are the ones engine.fullscan computes (32-bit FNV-1a over byte
n-grams), in vectorised numpy: the verified Jaccard is exact over those hash sets.
"""

from __future__ import annotations

import numba
import numpy as np

from filerate.engine.fullscan import FNV_OFFSET, FNV_PRIME

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


@numba.njit(nogil=True, cache=False)
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
