"""The GPU path's out-of-memory splitting, on the CPU: the chunk runner is replaced by
one that fails above a size limit, so the split-and-retry loop itself is tested without
a GPU (the real thing runs in tests/test_gpu.py where a GPU exists)."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

from filerate import atomic
from filerate.engine import buffers, gpu, repeats, tasks
from filerate.engine.records import BATCH_COLUMNS, BatchRecord
from slots import layout


class FakeOOM(Exception):
    pass


@pytest.fixture
def fake_device(monkeypatch):
    calls = []

    def count_chunk(host, offsets, lengths, first, last, counts, timing, stream):
        lo = int(offsets[first])
        hi = int(offsets[last - 1] + ((lengths[last - 1] + 8) // 8) * 8)
        calls.append((first, last))
        if hi - lo > limit["bytes"]:
            raise FakeOOM(f"{hi - lo} bytes")
        for i in range(first, last):
            d = host[offsets[i] : offsets[i] + lengths[i]].tobytes()
            counts[0, i] = d.count(b"\n")
        timing.gpu_chunks += 1

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
    assert timing.gpu_oom_splits == 7  # 32 -> 16 -> 8 -> 4: 1 + 2 + 4 splits
    assert timing.gpu_chunks == 8
    done = sorted(c for c in calls if c[1] - c[0] <= 4)
    assert done == [(i, i + 4) for i in range(0, 32, 4)]  # in order, each file once


def test_a_single_file_that_does_not_fit_raises_memory_error(fake_device):
    limit, _ = fake_device
    buf, offsets, sizes = layout([b"x" * 100, b"y" * 5_000])
    limit["bytes"] = 1_000
    with pytest.raises(MemoryError, match="one file of 5000 bytes"):
        gpu.count_batch(buf, offsets, sizes, budget=1 << 30)


def test_oversize_files_are_counted(fake_device):
    buf, offsets, sizes = layout([b"x" * 100, b"y" * 5_000, b"z" * 100])
    counts, timing = gpu.count_batch(buf, offsets, sizes, budget=1_000)
    assert timing.gpu_oversize_files == 1  # the 5,000-byte file, in a chunk of its own
    assert timing.gpu_chunks == 3 and timing.gpu_oom_splits == 0


def test_the_full_analysis_splits_the_same_way(fake_device, monkeypatch):
    """gpu_full.full_batch runs its chunks through the same split-and-retry loop."""
    from filerate.engine import gpu_full

    limit, _ = fake_device
    done = []

    def full_chunk(host, offsets, lengths, span, params, counts, res, timing):
        first, last = span
        if int(offsets[last - 1] + lengths[last - 1]) - int(offsets[first]) > limit["bytes"]:
            raise FakeOOM("too big")
        done.append(span)
        timing.gpu_chunks += 1

    monkeypatch.setattr(gpu_full, "_full_chunk", full_chunk)
    datas = [b"x" * 1_000 for _ in range(8)]
    buf, offsets, sizes = layout(datas)
    limit["bytes"] = 2_500  # two files fit, not more
    _, _, timing = gpu_full.full_batch(
        buf, offsets, sizes, {"shingle_bytes": 5, "hashes": 8}, budget=1 << 30
    )
    assert sorted(done) == [(i, i + 2) for i in range(0, 8, 2)]
    assert timing.gpu_oom_splits == 3 and timing.gpu_chunks == 4


def test_split_counters_are_recorded_in_batches_parquet(fake_device, monkeypatch, tmp_path):
    """The GPU path's counters travel from the task to its batches.parquet row."""
    limit, _ = fake_device
    monkeypatch.setattr(tasks, "_pool", lambda gpu: buffers.host_pool)  # no pinned memory
    files = tmp_path / "files"
    files.mkdir()
    names = [f"f{i:02d}.txt".encode() for i in range(16)]
    for name in names:
        (files / name.decode()).write_bytes(b"line\n" * 200)  # 1,000 bytes each
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame({"path_raw": names, "bytes": [1_000] * 16}).to_parquet(manifest)
    spec = {
        "manifest": str(manifest),
        "data_dir": str(files),
        "start": 0,
        "stop": 16,
        "analysis": "light",
        "max_file_bytes": 1 << 20,
        "gpu_budget_bytes": 1 << 30,
        "device": "gpu",
    }
    limit["bytes"] = 4_500  # four files fit, not more: 16 -> 8 -> 4
    res = tasks.analyse_batch(spec)
    assert res.lines.tolist() == [200] * 16
    assert (res.timing.gpu_chunks, res.timing.gpu_oom_splits) == (4, 3)

    row = repeats._batch_record(res, 1, False, 0, "analyse-p-r1-b0", 0.0).to_dict()
    atomic.write_parquet(tmp_path / "batches.parquet", pd.DataFrame([row], columns=BATCH_COLUMNS))
    back = pd.read_parquet(tmp_path / "batches.parquet")
    assert tuple(back.columns) == BATCH_COLUMNS
    counters = ["gpu_chunks", "gpu_oversize_files", "gpu_oom_splits"]
    assert back.loc[0, counters].tolist() == [4, 0, 3]
    assert BatchRecord.from_dict(back.iloc[0].to_dict()).timing.gpu_oom_splits == 3
