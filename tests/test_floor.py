"""The floor loop reads every file of the table, counts errors, and runs where it is told."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from filerate.confidence import StoppingRule
from filerate.engine import batchio, floor


@pytest.fixture
def tree(tmp_path):
    sizes = [0, 1, 7, 4096, 100_000, 3 * floor.MAX_BUFFER // 2]
    names = []
    for i in range(1200):  # more than two chunks
        size = sizes[i % len(sizes)]
        name = f"d{i // 100}/f{i}.txt"
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
        names.append((name.encode(), size))
    table = batchio.FileTable([n for n, _ in names], np.array([s for _, s in names]))
    return tmp_path, table


def _one_pass(f: floor.Floor, data_dir):
    dirfd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with ThreadPoolExecutor(f.threads) as pool:
            return f.one_pass(pool, dirfd)
    finally:
        os.close(dirfd)


@pytest.mark.parametrize("threads", [1, 3])
def test_one_pass_reads_every_file_whole(tree, threads):
    data_dir, table = tree
    f = floor.Floor(table, str(data_dir), threads, max_file_bytes=1 << 30)
    totals, cpus = _one_pass(f, data_dir)
    assert totals.tolist() == [len(table), int(table.sizes.sum()), 0]
    assert len(cpus) == threads


def test_too_large_files_are_skipped_and_missing_files_counted(tree):
    data_dir, table = tree
    os.unlink(data_dir / table.path_raw[1].decode())
    f = floor.Floor(table, str(data_dir), 2, max_file_bytes=100_000)
    totals, _ = _one_pass(f, data_dir)
    too_large = int((table.sizes > 100_000).sum())
    assert totals[2] == 1  # the missing one
    assert totals[0] == len(table) - too_large - 1


def test_measure_repeats_until_the_rule_stops(tree):
    data_dir, table = tree
    f = floor.Floor(table, str(data_dir), 2, max_file_bytes=1 << 30)
    rule = StoppingRule(min_repeats=3, max_repeats=3, ci_target_pct=0.0, max_phase_s=1e9)
    rec = f.measure(rule, min_repeat_s=0.05)
    assert len(rec["repeats"]) == 3
    assert rec["stop_reason"] == "max_repeats"
    for r in rec["repeats"]:
        assert r["wall_s"] >= 0.05
        assert r["files_ok"] == r["passes"] * len(table)  # whole passes only
    assert rec["files_per_s_ci"]["low"] <= rec["files_per_s_median"]
    assert rec["cpus"] == sorted(os.sched_getaffinity(0))


def test_threads_inherit_an_affinity_set_before_they_start(tree):
    data_dir, table = tree
    before = os.sched_getaffinity(0)
    one = {min(before)}
    os.sched_setaffinity(0, one)  # this thread only; the pool's threads are made after
    try:
        f = floor.Floor(table, str(data_dir), 2, max_file_bytes=1 << 30)
        _, cpus = _one_pass(f, data_dir)
    finally:
        os.sched_setaffinity(0, before)
    assert cpus == [frozenset(one)] * 2


def test_no_floor_for_a_cold_phase():
    """A cold phase's floor would read pages the eviction left warm: not measured, and
    the reason says so (never a cold figure divided by a warm floor)."""
    from filerate.engine import measurement

    settings = {"floor": True, "cache": "cold", "staging": False, "repeats": None}
    threads, why = measurement.floor_plan(settings, {"used": "cpu"}, {"total_threads": 4})
    assert threads is None and "cold" in why
    settings["staging"] = True  # a staged cold phase reads the RAM-disk copy: floor as usual
    assert measurement.floor_plan(settings, {"used": "cpu"}, {"total_threads": 4})[0] == 4
    settings["cache"], settings["staging"] = "warm", False
    assert measurement.floor_plan(settings, {"used": "cpu"}, {"total_threads": 4})[0] == 4
