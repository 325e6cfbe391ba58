"""The GPU path's out-of-memory splitting, on the CPU: the chunk runner is replaced by
one that fails above a size limit, so the split-and-retry loop itself is tested without
a GPU (the real thing runs in tests/test_gpu.py where a GPU exists)."""

from __future__ import annotations

import contextlib

import pytest

from filerate.engine import gpu
from slots import layout


class FakeOOM(Exception):
    pass


@pytest.fixture
def fake_device(monkeypatch):
    calls = []

    def count_chunk(host, offsets, lengths, first, last, budget, counts, timing, stream):
        lo = int(offsets[first])
        hi = int(offsets[last - 1] + ((lengths[last - 1] + 8) // 8) * 8)
        calls.append((first, last))
        if hi - lo > limit["bytes"]:
            raise FakeOOM(f"{hi - lo} bytes")
        for i in range(first, last):
            d = host[offsets[i] : offsets[i] + lengths[i]].tobytes()
            counts[0, i] = d.count(b"\n")
        timing["chunks"] += 1

    limit = {"bytes": 1 << 30}
    monkeypatch.setattr(gpu, "_count_chunk", count_chunk)
    monkeypatch.setattr(gpu, "_out_of_memory", lambda: FakeOOM)
    monkeypatch.setattr(gpu, "_release_device_memory", lambda: None)
    monkeypatch.setattr(gpu, "_stream", contextlib.nullcontext)
    return limit, calls


def test_a_chunk_that_does_not_fit_is_halved_until_it_does(fake_device):
    limit, calls = fake_device
    datas = [b"a\nb\n" * 250 for _ in range(32)]  # 1,000 bytes each
    buf, offsets, sizes = layout(datas)
    limit["bytes"] = 4_500  # four files fit, not more
    counts, timing = gpu.count_batch(buf, offsets, sizes, budget=1 << 30)
    assert (counts[0] == 500).all()
    assert timing["oom_splits"] == 7  # 32 -> 16 -> 8 -> 4: 1 + 2 + 4 splits
    assert timing["chunks"] == 8
    done = sorted(c for c in calls if c[1] - c[0] <= 4)
    assert done == [(i, i + 4) for i in range(0, 32, 4)]  # in order, each file once


def test_a_single_file_that_does_not_fit_raises_memory_error(fake_device):
    limit, _ = fake_device
    buf, offsets, sizes = layout([b"x" * 100, b"y" * 5_000])
    limit["bytes"] = 1_000
    with pytest.raises(MemoryError, match="one file of 5000 bytes"):
        gpu.count_batch(buf, offsets, sizes, budget=1 << 30)
