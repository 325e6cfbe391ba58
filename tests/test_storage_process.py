"""Cold phases and a user's tree through the real engine (engine.process.run_phase on a
Dask LocalCluster). No timed assertions."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from filerate import config as cfg
from filerate import validate as val
from filerate.corpus import tree
from filerate.engine import disk, process
from test_tree import make_tree, snapshot


def _settings(**kw) -> dict:
    phase = {"corpus": "c", "backend": "cpu", "workers": 4, "batch_size": 50, "repeats": 2}
    phase.update(kw)
    conf = cfg.validate({"corpora": {"c": {"files": 1}}, "phases": {"p": phase}})
    return cfg.phases(conf)["p"]


def _run(settings, manifest, data, out):
    r = process.run_phase(settings, str(manifest), str(data), None, out)
    v = val.validate(pd.read_parquet(manifest), pd.read_parquet(out / "files.parquet"), r)
    return r, v


def test_a_cold_phase_evicts_before_every_timed_repeat(small_corpus, tmp_path):
    if disk.mount_of(small_corpus).in_memory:
        pytest.skip("the test corpus is on a memory filesystem")
    s = _settings(cache="cold", analysis="light")
    r, v = _run(s, small_corpus / "manifest.parquet", small_corpus / "files", tmp_path / "p")
    assert v["ok"] and r["summary"]["files_error"] == 0
    timed = [x for x in r["repeats"] if not x["warmup"]]
    assert [x["cache"]["cold"] for x in timed] == [True, True]
    assert all(x["cache"]["resident_share"] == 0.0 for x in timed)
    assert all(x["cache"]["method"] == "fadvise" for x in timed)
    assert r["repeats"][0]["cache"] is None  # warm-up: not evicted, not timed as cold
    assert r["summary"]["cache"]["state"] == "cold"
    assert r["listing"]["warm"]["files"] == 600 and r["listing"]["cold"] is None
    assert r["summary"]["files_per_s_with_listing_median"] > 0
    res = pd.read_parquet(tmp_path / "p" / "resources.parquet")
    assert "iowait_pct" in res


def test_a_cold_phase_on_tmpfs_is_reported_not_cold(small_corpus, shm_dir):
    shutil.copytree(small_corpus / "files", shm_dir / "files")
    s = _settings(cache="cold", analysis="minimal", repeats=1)
    r, v = _run(s, small_corpus / "manifest.parquet", shm_dir / "files", shm_dir / "p")
    assert v["ok"]
    assert r["summary"]["cache"]["state"] == "not cold"
    assert any("tmpfs" in n for n in r["summary"]["cache"]["notes"])
    timed = [x for x in r["repeats"] if not x["warmup"]]
    assert timed[0]["cache"]["cold"] is False and timed[0]["cache"]["resident_share"] > 0.9


def test_a_users_tree_in_place_with_a_file_changed_after_the_reference_pass(tmp_path):
    root = make_tree(tmp_path / "tree")
    tree.reference_pass(root, tmp_path / "ref", processes=1)
    manifest = tmp_path / "ref" / "manifest.parquet"
    before = snapshot(root)
    s = _settings(cache="cold", analysis="light", workers=2, batch_size=3)
    r, v = _run(s, manifest, root, tmp_path / "p1")
    assert v["ok"] and r["summary"]["files_error"] == 0 and r["summary"]["files_ok"] == 7
    assert snapshot(root) == before  # nothing written inside the tree
    # between the reference pass and the timed repeats: one file rewritten with the same
    # size, one grown, one replaced by a symlink
    (root / "with space.txt").write_text("x y  z\n")
    (root / "README.md").write_text("# longer than it was before, by far\n")
    os.unlink(root / "empty")
    os.symlink("data.bin", root / "empty")
    r, v = _run(s, manifest, root, tmp_path / "p2")
    assert v["ok"], v  # no wrong number: the changed files are errors, the rest match
    files = pd.read_parquet(tmp_path / "p2" / "files.parquet").set_index("path")
    assert files.loc["with space.txt", "error"].startswith("changed since reference pass")
    assert files.loc["README.md", "error"].startswith("changed since manifest (grew)")
    assert files.loc["empty", "status"] == "error"
    assert (files["status"] == "ok").sum() == 4
    assert r["summary"]["files_error"] == 3
    assert all(x["files_ok"] + x["files_error"] == 7 for x in r["repeats"])
