"""Page-cache eviction and its verification (filerate.engine.cache), block-device lookup and
the storage rule (filerate.engine.disk). No timed assertions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from filerate.engine import batchio, cache, disk


def _tree(root: Path, n: int = 40, size: int = 64 * 1024) -> batchio.FileTable:
    rng = np.random.default_rng(5)
    names = []
    for i in range(n):
        rel = f"d{i % 3}/f{i}.bin".encode()
        (root / f"d{i % 3}").mkdir(exist_ok=True)
        (root / rel.decode()).write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        names.append(rel)
    names.append(b"empty.txt")
    (root / "empty.txt").write_bytes(b"")
    return batchio.FileTable(names, np.array([size] * n + [0]))


def _read_all(root: Path, table) -> None:
    for rel in table.path_raw:
        (root / os.fsdecode(rel)).read_bytes()


def _disk_tmp(tmp_path: Path) -> Path:
    if disk.mount_of(tmp_path).in_memory:
        pytest.skip(f"{tmp_path} is on a memory filesystem: nothing to evict")
    return tmp_path


def test_fadvise_evicts_and_mincore_sees_it(tmp_path):
    root = _disk_tmp(tmp_path)
    table = _tree(root)
    _read_all(root, table)
    before = cache.resident_share(root, table)
    assert before["sampled_files"] == len(table)  # fewer than MIN_SAMPLE: all of them
    assert before["resident_share"] > 0.9
    rec = cache.evict(root, table, "fadvise")
    assert rec["method"] == "fadvise"
    assert rec["fadvise"] == {"files": len(table), "failed": 0}
    assert rec["resident_share"] == 0.0
    assert rec["cold"] is True
    assert "dentries and inodes stayed cached" in rec["note"]
    _read_all(root, table)  # reading brings the pages back
    assert cache.state(root, table)["resident_share"] > 0.9


def test_a_corpus_on_tmpfs_is_not_cold(shm_dir):
    table = _tree(shm_dir, n=5)
    rec = cache.evict(shm_dir, table, "fadvise")
    assert rec["fs_type"] == "tmpfs"
    assert rec["cold"] is False
    assert rec["resident_share"] > 0.9
    assert rec["note"].startswith("not cold: the corpus is on tmpfs")


def test_missing_files_are_counted_not_fatal(tmp_path):
    root = _disk_tmp(tmp_path)
    table = _tree(root, n=4)
    os.unlink(root / "d0/f0.bin")
    rec = cache.evict(root, table, "fadvise")
    assert rec["fadvise"]["failed"] == 1
    assert rec["unreadable_files"] == 1


def test_auto_falls_back_to_fadvise_when_drop_caches_is_refused(tmp_path, monkeypatch):
    root = _disk_tmp(tmp_path)
    table = _tree(root, n=3)
    monkeypatch.setattr(cache, "drop_caches", lambda: "not root")
    rec = cache.evict(root, table, "auto")
    assert rec["method"] == "fadvise"
    assert rec["drop_caches_refused"] == "not root"
    assert "drop_caches refused: not root" in rec["note"]


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(ValueError, match="eviction method"):
        cache.evict(tmp_path, batchio.FileTable([b"x"], np.array([1])), "magic")


def test_sample_index_covers_at_least_min_sample():
    assert len(cache.sample_index(10)) == 10
    idx = cache.sample_index(50_000)
    assert len(idx) == cache.MIN_SAMPLE and idx[0] == 0 and idx[-1] == 49_999
    assert len(cache.sample_index(50_000, 5000)) == 5000


MOUNTINFO = (
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:25 / /dev/shm rw,nosuid shared:5 - tmpfs tmpfs rw,size=1k\n"
    "31 22 0:26 / /mnt/my\\040data rw shared:6 - nfs4 host:/export rw\n"
)


def test_mount_of_picks_the_longest_prefix_and_unescapes():
    assert disk.mount_of("/dev/shm/x", MOUNTINFO).fs_type == "tmpfs"
    assert disk.mount_of("/dev/shm/x", MOUNTINFO).in_memory
    m = disk.mount_of("/mnt/my data/f", MOUNTINFO)
    assert (m.mount_point, m.fs_type, m.source) == ("/mnt/my data", "nfs4", "host:/export")
    assert disk.mount_of("/home/u", MOUNTINFO).fs_type == "ext4"


DISKSTATS = (
    " 254 0 vda 100 5 8000 50 10 0 80 5 0 40 60 0 0 0 0 0 0\n"
    " 254 1 vda1 90 5 7000 45 10 0 80 5 0 35 50 0 0 0 0 0 0\n"
)


def test_diskstats_rates():
    a = disk.parse_diskstats(DISKSTATS, "vda")
    b = disk.DiskCounters(
        reads=1100,
        sectors_read=48000,
        read_ms=0,
        writes=10,
        in_flight=3,
        busy_ms=540,
        weighted_ms=2060,
    )
    r = disk.rates(a, b, 1.0)
    assert r["disk_reads_per_s"] == 1000
    assert r["disk_read_mb_per_s"] == pytest.approx(40000 * 512 / 1e6)
    assert r["disk_busy_pct"] == 50
    assert r["disk_queue"] == 2.0
    assert disk.parse_diskstats(DISKSTATS, "sdz") is None


def test_block_device_of_a_memory_fs_is_none(shm_dir):
    assert disk.block_device(shm_dir) is None


def test_storage_verdict_rule():
    busy = {
        "cpu_pct": 20,
        "iowait_pct": 70,
        "disk_busy_pct": 95,
        "disk_queue": 1.8,
        "disk_reads_per_s": 9000,
        "disk_read_mb_per_s": 110,
        "threads": 2,
    }
    v = disk.storage_verdict(busy)
    assert v["storage_limited"] and v["resource"] == "storage device"
    assert "more reader threads" in v["next_change"] and "workers: 16" in v["next_change"]
    assert not disk.storage_verdict({**busy, "cpu_pct": 99})["storage_limited"]
    assert not disk.storage_verdict({**busy, "disk_busy_pct": 10})["storage_limited"]
    assert disk.storage_verdict({"cpu_pct": 10}) is None
    assert disk.storage_verdict({"cpu_pct": 10, "disk_busy_pct": float("nan")}) is None


def test_sampler_records_the_block_device_and_iowait(tmp_path):
    from filerate.engine import monitor

    dev = disk.block_device(tmp_path)
    if dev is None:
        pytest.skip(f"{tmp_path} is not on a block device")
    sampler = monitor.Sampler(None, device=dev)
    row = sampler.sample()
    for key in ("iowait_pct", "disk_reads_per_s", "disk_read_mb_per_s", "disk_busy_pct"):
        assert key in row and row[key] >= 0
