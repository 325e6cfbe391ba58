"""Soak drift detection on synthetic series, and the process-tree reading."""

from __future__ import annotations

import os

import numpy as np

from filerate import soak


def _intervals(n=30, **series):
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        row = {
            "t": i * 20.0,
            "files_per_s": 50_000 + rng.normal(0, 1000),
            "rss_bytes": 800e6 + rng.normal(0, 4e6),
            "uss_bytes": 600e6 + rng.normal(0, 4e6),
            "open_fds": 40,
            "threads": 25,
            "ramdisk_used_bytes": 700e6,
        }
        for name, f in series.items():
            row[name] = f(i, row[name])
        rows.append(row)
    return rows


def test_a_flat_noisy_soak_is_stable():
    a = soak.assess(_intervals())
    assert a["verdict"] == "stable"
    assert a["drifting"] == []
    assert set(a["metrics"]) == set(soak.TOLERANCES)


def test_a_memory_leak_and_a_descriptor_leak_are_caught():
    a = soak.assess(
        _intervals(rss_bytes=lambda i, v: v + i * 10e6, open_fds=lambda i, v: v + i // 5)
    )
    assert a["verdict"] == "drifting"
    assert a["drifting"] == ["open_fds", "rss_bytes"]
    assert a["metrics"]["open_fds"]["first_interval"] == 40
    assert a["metrics"]["open_fds"]["last_interval"] == 45


def test_a_slowdown_drifts_but_a_speed_up_does_not():
    slow = soak.assess(_intervals(files_per_s=lambda i, v: v - i * 500))
    assert slow["drifting"] == ["files_per_s"]
    fast = soak.assess(_intervals(files_per_s=lambda i, v: v + i * 500))
    assert fast["verdict"] == "stable"  # a warming cache is not a fault


def test_memory_that_shrinks_is_not_a_leak():
    a = soak.assess(_intervals(rss_bytes=lambda i, v: v - i * 10e6))
    assert a["verdict"] == "stable"


def test_too_few_intervals_give_no_verdict_of_stability():
    assert soak.assess(_intervals(n=3))["verdict"] == "too short"


def test_missing_ramdisk_series_is_left_out():
    rows = _intervals()
    for r in rows:
        r["ramdisk_used_bytes"] = None
    assert "ramdisk_used_bytes" not in soak.assess(rows)["metrics"]


def test_tree_usage_reads_this_process(tmp_path):
    u = soak.tree_usage(os.getpid(), str(tmp_path))
    assert u["rss_bytes"] > 0 and u["uss_bytes"] > 0
    assert u["open_fds"] >= 3 and u["threads"] >= 1
    assert u["ramdisk_used_bytes"] > 0
    assert soak.tree_usage()["ramdisk_used_bytes"] is None
