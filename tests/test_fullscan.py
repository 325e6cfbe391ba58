"""`full` analysis kernels: the compiled CPU kernel against a plain-Python reference, the
Jaccard estimates against datasketch's (an independent MinHash), entropy and band keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from filerate.dedup.judge import true_jaccard
from filerate.dedup.shingles import band_keys, jaccard, shingle_set
from filerate.engine import fullscan
from slots import layout


def _fnv(data: bytes) -> int:
    h = 2166136261
    for c in data:
        h = ((h ^ c) * 16777619) % 2**32
    return h


def reference_signature(data: bytes, k: int, hashes: int) -> list[int]:
    """Written from the definition in fullscan's docstring, in plain Python integers."""
    a, b = fullscan.permutations(hashes)
    if not data:
        return [2**32 - 1] * hashes
    grams = [data[p : p + k] for p in range(len(data) - k + 1)] if len(data) >= k else [data]
    xs = {_fnv(g) for g in grams}
    return [min(((int(a[h]) * x + int(b[h])) % 2**64) >> 32 for x in xs) for h in range(hashes)]


def _datas():
    rng = np.random.default_rng(3)
    datas = [b"", b"a", b"abcd", b"abcde", b"abcdef", b"\0" * 9, b"hello world\n" * 7]
    for n in (1, 7, 8, 9, 63, 64, 65, 500, 3000):
        datas.append(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        datas.append(rng.choice(np.frombuffer(b"ab \n", np.uint8), n).tobytes())
    return datas


@pytest.mark.parametrize("k,hashes", [(5, 16), (1, 8), (8, 33), (24, 4)])
def test_signatures_and_histograms_match_reference(k, hashes):
    datas = _datas()
    buf, offsets, sizes = layout(datas)
    res = fullscan.full_batch(buf, offsets, sizes, k, hashes)
    for i, d in enumerate(datas):
        assert res.sig[i].tolist() == reference_signature(d, k, hashes), (i, len(d))
        expected = np.bincount(np.frombuffer(d, np.uint8), minlength=256)
        assert res.hist[i].tolist() == expected.tolist()
    assert (res.spent_ns >= 0).all()


def test_zero_length_slots_are_skipped():
    buf, offsets, sizes = layout([b"abcdefgh", b"xyz"])
    res = fullscan.full_batch(buf, offsets, np.array([0, 3]), 5, 4)
    assert res.hist[0].sum() == 0 and (res.sig[0] == fullscan.NO_SHINGLES).all()
    assert res.sig[1].tolist() == reference_signature(b"xyz", 5, 4)


def test_entropy():
    hist = np.zeros((4, 256), dtype=np.uint32)
    hist[1, 7] = 10  # one symbol: 0 bits
    hist[2, :] = 3  # uniform: 8 bits
    hist[3, [1, 2]] = [1, 3]
    h = fullscan.entropy(hist)
    assert h[0] == 0 and h[1] == 0 and h[2] == pytest.approx(8)
    assert h[3] == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))


def test_shingle_set_matches_the_kernels_hashes():
    for d in _datas():
        expected = sorted(
            {_fnv(d[p : p + 5]) for p in range(len(d) - 4)} or ({_fnv(d)} if d else set())
        )
        assert shingle_set(d, 5).tolist() == expected


def _variant(rng, base: bytes, changes: int) -> bytes:
    arr = np.frombuffer(base, np.uint8).copy()
    pos = rng.choice(len(arr), changes, replace=False)
    arr[pos] = rng.integers(97, 123, changes)
    return arr.tobytes()


def test_jaccard_estimates_agree_with_datasketch():
    datasketch = pytest.importorskip("datasketch")
    rng = np.random.default_rng(11)
    base = rng.integers(97, 123, 4000, dtype=np.uint8).tobytes()
    datas = [base] + [_variant(rng, base, c) for c in (10, 60, 150, 400)]
    k, hashes = 5, 256
    buf, offsets, sizes = layout(datas)
    sig = fullscan.full_batch(buf, offsets, sizes, k, hashes).sig
    for i in range(1, len(datas)):
        truth = true_jaccard(datas[0], datas[i], k)
        ours = float((sig[0] == sig[i]).mean())
        theirs = []
        for d in (datas[0], datas[i]):
            m = datasketch.MinHash(num_perm=hashes, seed=1)
            m.update_batch([d[p : p + k] for p in range(len(d) - k + 1)])
            theirs.append(m)
        ref = theirs[0].jaccard(theirs[1])
        # both estimators: standard error sqrt(J(1-J)/256) <= 0.031; 4 sigma apart at most
        assert abs(ours - truth) < 0.13 and abs(ref - truth) < 0.13
        assert abs(ours - ref) < 0.18
        assert jaccard(shingle_set(datas[0], k), shingle_set(datas[i], k)) == pytest.approx(
            truth, abs=0.01
        )


def test_band_keys_equal_exactly_when_a_band_is_equal():
    sig = np.arange(24, dtype=np.uint32).reshape(2, 12).copy()
    sig[1, 4:8] = sig[0, 4:8]  # band 1 (rows 4..7) equal
    keys = band_keys(sig, 3, 4)
    assert (keys[0] == keys[1]).tolist() == [False, True, False]
    assert len(set(band_keys(np.zeros((1, 12), np.uint32), 3, 4)[0])) == 3  # bands differ
