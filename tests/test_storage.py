"""Listing (filerate.listing) and the staging break-even (filerate.reports.storage)."""

from __future__ import annotations

import os

import pytest

from filerate import listing
from filerate.reports import storage


def test_walk_counts_without_following_symlinks(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("x.txt", "a/y.py", "a/b/z", "a/b/odd\nname"):
        (tmp_path / name).write_bytes(b"1")
    os.symlink("/", tmp_path / "a" / "loop")  # never followed
    os.mkfifo(tmp_path / "fifo")
    w = listing.walk(tmp_path)
    assert (w["files"], w["dirs"], w["symlinks"], w["other"], w["errors"]) == (4, 2, 1, 1, 0)


def test_measure_warm_and_cold_without_drop_caches(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    m = listing.measure(tmp_path, cold=True, eviction="fadvise")
    assert m["warm"]["files"] == 1
    assert m["cold"] is None and "dentries and inodes cached" in m["cold_note"]
    assert listing.seconds_for(m, cold=False) == m["warm"]["seconds"]
    # fadvise leaves the dentries cached: a cold repeat's walk costs the warm listing
    assert listing.seconds_for(m, cold=True) == m["warm"]["seconds"]
    assert listing.seconds_for(None, cold=True) is None


def test_measure_cold_when_drop_caches_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(listing.cache, "drop_caches", lambda: "not root")
    m = listing.measure(tmp_path, cold=True, eviction="auto")
    assert m["cold"] is None and "refused (not root)" in m["cold_note"]


def test_break_even_pays_off_or_never():
    r = storage.break_even(staging_s=6.0, cold_pass_s=2.0, staged_pass_s=0.5)
    assert r["exact"] == pytest.approx(4.0) and r["passes"] == 4 and r["verdict"] == "pays off"
    r = storage.break_even(staging_s=6.1, cold_pass_s=2.0, staged_pass_s=0.5)
    assert r["passes"] == 5
    assert storage.break_even(1.0, 0.4, 0.5)["passes"] is None
    assert storage.break_even(1.0, 0.5, 0.5)["verdict"] == "never"
    assert storage.break_even(0.01, 5.0, 0.5)["passes"] == 1


def _run(phase, cache="warm", staged=False, cold=(True, True), src_cold=True, wall=1.0):
    return {
        "phase": phase,
        "settings": {"cache": cache, "analysis": "minimal"},
        "corpus": {"name": "small", "files": 100, "staged": staged},
        "staging": {"staged": True, "seconds": 3.0, "source_cache": {"cold": src_cold}}
        if staged
        else None,
        "repeats": [{"warmup": True, "cache": None}]
        + [{"warmup": False, "cache": {"cold": c}} for c in cold],
        "summary": {"wall_s_median": wall},
    }


def test_cache_labels():
    assert storage.cache_label(_run("w")) == "warm"
    assert storage.cache_label(_run("c", "cold")) == "cold"
    assert storage.cache_label(_run("c", "cold", cold=(True, False))) == "not cold"
    assert storage.cache_label(_run("s", "cold", staged=True)) == "ramdisk (source cold)"
    assert storage.cache_label(_run("s", "cold", staged=True, src_cold=False)).endswith(
        "(source not cold)"
    )


def test_break_evens_pair_staged_with_cold_in_place():
    runs = [
        _run("warm", wall=0.2),
        _run("cold", "cold", wall=1.0),
        _run("staged", "cold", staged=True, wall=0.25),
    ]
    (rec,) = storage.break_evens(runs)
    assert (rec["staged_phase"], rec["in_place_phase"]) == ("staged", "cold")
    assert rec["passes"] == 4  # 3.0 / (1.0 - 0.25)
    assert "pays off from pass 4 on" in storage.headline(rec)
    never = storage.break_evens([_run("c", "cold", wall=0.2), _run("s", "cold", True, wall=0.3)])
    assert "does not help" in storage.headline(never[0])
    # a "not cold" in-place phase gives no break-even
    assert storage.break_evens([_run("c", "cold", cold=(False,)), runs[2]]) == []


def test_break_even_takes_seconds_per_pass_from_repeats_of_several_passes():
    """A staged repeat holds whole passes for about min_repeat_s (here 4 passes in 1 s);
    an evicted in-place repeat holds one. The break-even compares one pass with one."""
    cold = _run("cold", "cold", wall=1.0)
    for r in cold["repeats"][1:]:
        r.update(wall_s=1.0, passes=1)
    staged = _run("staged", "cold", staged=True, wall=1.0)
    for r in staged["repeats"][1:]:
        r.update(wall_s=1.0, passes=4)
    (rec,) = storage.break_evens([cold, staged])
    assert rec["staged_pass_s"] == 0.25 and rec["cold_pass_s"] == 1.0
    assert rec["passes"] == 4  # 3.0 / (1.0 - 0.25), not "never"


def test_section_says_not_cold_and_names_a_storage_limit():
    import pandas as pd

    cold = _run("cold", "cold", cold=(True, False), wall=1.0)
    cold["repeats"][1].update(start=10.0, stop=11.0)
    cold["repeats"][2].update(start=12.0, stop=13.0)
    cold["summary"].update(
        files_per_s_median=100.0,
        cache={"methods": ["fadvise"], "resident_share_max": 0.5, "notes": ["not cold: x"]},
    )
    cold["listing"] = {"warm": {"seconds": 0.01}, "cold": None}
    cold["cluster"] = {"total_threads": 2}
    res = pd.DataFrame(
        {
            "t": [10.5, 12.5, 20.0],
            "cpu_pct": [10.0, 12.0, 99.0],
            "disk_busy_pct": [95.0, 90.0, 0.0],
            "iowait_pct": [80.0, 70.0, 0.0],
        }
    )
    text = "\n".join(storage.section([cold], {"cold": res}))
    assert "| cold | not cold | fadvise | 50.0 % | 100 | 0.010 | — | — |" in text
    assert "No staging break-even" in text
    assert "- not cold: x" in text
    assert "**cold: limited by the storage device**" in text and "workers: 16" in text
    assert storage.timed_window(cold, res)["samples"] == 2
