"""End to end with real storage: warm and cold phases of one config in one run, and the
user-tree command (`--config tree=DIR`) on a tree made here. No timed assertions."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from filerate.engine import disk
from test_tree import make_tree, snapshot
from test_workflow import make_workdir, snakemake

pytestmark = pytest.mark.slow

STORAGE = """
ramdisk: {{root: {ramdisk}, min_free_memory_gb: 0.1}}
corpora:
  a: {{files: 400, seed: 5}}
phases:
  warm:   {{corpus: a, backend: cpu, workers: 2, batch_size: 100, analysis: light,
            staging: false, repeats: 2}}
  cold:   {{corpus: a, backend: cpu, workers: 8, batch_size: 100, analysis: light,
            staging: false, cache: cold, repeats: 2}}
  staged: {{corpus: a, backend: cpu, workers: 8, batch_size: 100, analysis: light,
            staging: true, cache: cold, repeats: 2}}
"""


def _on_disk(path):
    if disk.mount_of(path).in_memory:
        pytest.skip(f"{path} is on a memory filesystem: nothing can be cold there")


def test_warm_and_cold_phases_of_one_config_in_one_run(tmp_path):
    _on_disk(tmp_path)
    work, ramdisk = make_workdir(tmp_path)
    (work / "config" / "config.yaml").write_text(STORAGE.format(ramdisk=ramdisk))
    try:
        snakemake(work)
    finally:
        shutil.rmtree(ramdisk, ignore_errors=True)
    res = work / "results"
    runs = {
        p: json.loads((res / "phases" / p / "run.json").read_text())
        for p in ("warm", "cold", "staged")
    }
    for p in runs:
        assert json.loads((res / "phases" / p / "validation.json").read_text())["ok"], p
    assert runs["warm"]["summary"]["cache"]["state"] == "warm"
    assert runs["cold"]["summary"]["cache"]["state"] == "cold"
    staging = json.loads((res / "staging" / "staged.json").read_text())
    assert staging["source_cache"]["cold"] and staging["source_cache"]["resident_share"] == 0
    table = pd.read_csv(res / "tables" / "throughput.tsv", sep="\t").set_index("phase")
    assert table.loc["cold", "cache"] == "cold" and table.loc["warm", "cache"] == "warm"
    md = (res / "reports" / "bottlenecks.md").read_text()
    assert "RAM disk" in md and ("pays off from pass" in md or "does not help" in md)
    html = (res / "report" / "index.html").read_text()
    assert "pays off from pass" in html or "does not help" in html


def test_the_user_tree_command_measures_a_tree_in_place(tmp_path):
    _on_disk(tmp_path)
    root = make_tree(tmp_path / "my tree")  # a space in the tree's own name too
    before = snapshot(root)
    work, ramdisk = make_workdir(tmp_path)
    try:
        snakemake(work, "--config", f"tree={root}")
    finally:
        shutil.rmtree(ramdisk, ignore_errors=True)
    assert snapshot(root) == before  # nothing written inside the tree
    res = work / "results"
    phases = sorted(p.name for p in (res / "phases").iterdir())
    assert phases == ["tree_cold", "tree_staged", "tree_warm"]  # only the tree's phases
    for p in phases:
        v = json.loads((res / "phases" / p / "validation.json").read_text())
        assert v["ok"] and v["manifest_files"] == 7 and v["files_error"] == 0, (p, v)
    assert not (res / "corpus" / "tree" / "files").exists()  # read in place, not copied
    cold = json.loads((res / "phases" / "tree_cold" / "run.json").read_text())
    assert cold["summary"]["cache"]["state"] == "cold"


def test_the_user_tree_command_names_an_unreadable_tree(tmp_path):
    work, _ = make_workdir(tmp_path)
    proc = snakemake(work, "--config", f"tree={tmp_path / 'missing'}", check=False)
    assert proc.returncode != 0
    assert f"{tmp_path / 'missing'} is not an existing directory" in proc.stderr + proc.stdout
