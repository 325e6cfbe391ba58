"""The reader's latency histograms: one entry per operation per file, in the right rows."""

from __future__ import annotations

import os

import numpy as np
import pytest

from filerate.engine import batchio, latency


def _read(tmp_path, sizes, count, missing=()):
    names = []
    for i, size in enumerate(sizes):
        name = f"f{i}.txt"
        if i not in missing:
            (tmp_path / name).write_bytes(b"a b\n" * size)
        names.append(name.encode())
    table = batchio.FileTable(names, np.array(sizes) * 4)
    skip = table.sizes > 4000
    offsets, total = batchio.slot_layout(table.sizes, skip)
    dirfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return batchio.read_batch(
            dirfd, table, 0, len(table), np.empty(total, np.uint8), offsets, skip, count
        )
    finally:
        os.close(dirfd)


@pytest.mark.parametrize("count", [False, True])
def test_each_operation_is_counted_once_per_file(tmp_path, count):
    res = _read(tmp_path, [1, 10, 100, 0, 5000, 3], count, missing={5})
    per_op = res.latency.sum(axis=1)
    # 6 files: one too large (never opened), one missing (opened, failed)
    assert per_op[latency.OPEN] == 5
    assert per_op[latency.READ] == per_op[latency.CLOSE] == 4
    assert per_op[latency.HASH] == 4
    assert per_op[latency.COUNT] == (4 if count else 0)
    s = latency.summary(res.latency, res.latency_max)
    assert ("count" in s) == count
    for op in s.values():
        assert 0 <= op["p50_us"] <= op["p90_us"] <= op["p99_us"]
        assert op["p99_us"] <= op["max_us"] * 2 ** (0.5 / latency.PER_OCTAVE)


def test_histogram_time_matches_the_spent_counters(tmp_path):
    res = _read(tmp_path, [50] * 40, True)
    # the maximum of a part never exceeds the total time spent in that part
    assert res.latency_max[latency.HASH] <= res.spent_ns[1]
    assert res.latency_max[latency.COUNT] <= res.spent_ns[2]
    syscalls = res.latency_max[[latency.OPEN, latency.READ, latency.CLOSE]]
    assert syscalls.max() <= res.spent_ns[0]
