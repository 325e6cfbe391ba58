"""Around the timed repeats: eviction per repeat, residency of warm and staged repeats,
files of a real tree that changed since the reference pass (filerate.engine.coldrun)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from filerate.corpus import tree
from filerate.engine import batchio, coldrun, disk
from filerate.engine.file_results import FileResults
from filerate.engine.records import ErrorKind, FileStatus


@pytest.fixture
def disk_tree(tmp_path):
    if disk.mount_of(tmp_path).in_memory:
        pytest.skip("tmp_path is on a memory filesystem")
    root = tmp_path / "tree"
    (root / "d").mkdir(parents=True)
    for i in range(20):
        (root / "d" / f"f{i}.txt").write_bytes(os.urandom(20000))
    tree.reference_pass(root, tmp_path / "ref", processes=1)
    return root, tmp_path / "ref" / "manifest.parquet"


def test_cold_repeat_is_evicted_and_warm_repeat_is_measured(disk_tree):
    root, manifest = disk_tree
    table = batchio.FileTable.from_manifest(str(manifest))
    assert coldrun.before_repeat({"cache": "cold"}, str(root), table, False, True) is None
    cold = coldrun.before_repeat({"cache": "cold"}, str(root), table, False, False)
    assert cold["cold"] and cold["resident_share"] == 0.0 and cold["method"] == "fadvise"
    warm = coldrun.before_repeat({"cache": "warm"}, str(root), table, False, False)
    assert warm["method"] is None and warm["cold"] is False
    staged = coldrun.before_repeat({"cache": "cold"}, str(root), table, True, False)
    assert staged["method"] is None and "staged" in staged["note"]
    src = coldrun.evict_source(str(manifest), str(root), "fadvise")
    assert src["cold"]


def test_summary_states():
    rep = [
        {"warmup": True, "cache": None},
        {
            "warmup": False,
            "cache": {"cold": True, "resident_share": 0.0, "method": "fadvise", "note": "n"},
        },
    ]
    assert coldrun.summary({"cache": "cold"}, rep, False)["state"] == "cold"
    rep[1]["cache"]["cold"] = False
    assert coldrun.summary({"cache": "cold"}, rep, False)["state"] == "not cold"
    assert coldrun.summary({"cache": "cold"}, rep, True)["state"] == "ramdisk"
    assert coldrun.summary({}, rep, False)["state"] == "warm"


def test_a_file_changed_after_the_reference_pass_becomes_an_error(disk_tree):
    root, manifest_path = disk_tree
    manifest = pd.read_parquet(manifest_path)
    truth = coldrun.truth_hashes(manifest)
    results = FileResults(len(manifest))
    results.status[:] = FileStatus.OK
    results.bytes[:] = manifest["bytes"].to_numpy()
    results.hash[:] = truth
    # row 3 read different content: its file was rewritten (same size) since the pass
    (root / os.fsdecode(manifest["path_raw"][3])).write_bytes(os.urandom(20000))
    results.hash[3] ^= np.uint64(1)
    # row 5 read different content but its file is untouched: stays ok (validate judges it)
    results.hash[5] ^= np.uint64(1)
    assert coldrun.reclassify_changed(results, manifest, truth, str(root)) == 1
    assert results.status[3] == FileStatus.CHANGED and results.status[5] == FileStatus.OK
    assert results.errors[3].kind == ErrorKind.CHANGED
    assert results.errors[3].message.startswith("changed since reference pass: ")
    assert coldrun.truth_hashes(manifest.drop(columns=["mtime_ns"])) is None


def test_listing_in_the_rate_when_asked():
    listed = {"warm": {"seconds": 1.0}, "cold": None}
    rec = {"warmup": False, "files_ok": 100, "wall_s": 1.0, "files_per_s": 100.0}
    rec["cache"] = {"cold": True}
    coldrun.with_listing(rec, listed, {"listing_in_rate": False})
    assert rec["listing_s"] == 1.0 and rec["files_per_s_with_listing"] == 50.0
    assert rec["files_per_s"] == 100.0  # reported beside the rate, not in it
    coldrun.with_listing(rec, listed, {"listing_in_rate": True})
    assert rec["files_per_s"] == 50.0 and rec["files_per_s_without_listing"] == 100.0
    warmup = {"warmup": True, "files_ok": 1, "wall_s": 1.0, "files_per_s": 1.0}
    coldrun.with_listing(warmup, listed, {})
    assert warmup["listing_s"] is None


@pytest.mark.parametrize(
    "settings,staged,single",
    [
        ({"cache": "cold"}, False, True),  # evicted before every timed pass
        ({"cache": "cold"}, True, False),  # source evicted before the copy; reads the RAM disk
        ({"cache": "warm"}, False, False),
        ({"cache": "warm", "listing_in_rate": True}, True, True),
    ],
)
def test_which_phases_time_one_pass_per_repeat(settings, staged, single):
    storage = coldrun.RepeatStorage(settings, "/nowhere", staged, None, None, None, {})
    assert storage.single_pass is single


def test_rate_with_listing_lists_before_every_pass_of_a_repeat():
    rec = {"warmup": False, "cache": None, "files_ok": 300, "wall_s": 1.0, "passes": 3}
    coldrun.with_listing(rec, {"warm": {"seconds": 0.1}}, {})
    assert rec["listing_s"] == 0.1
    assert rec["files_per_s_with_listing"] == pytest.approx(300 / 1.3)
