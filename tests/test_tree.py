"""A user's own tree: the reference pass (filerate.corpus.tree) and the tree mode's config
(filerate.usertree). The end-to-end run of the tree phases is in test_storage_workflow.py."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pytest

from filerate import config as cfg
from filerate import reference, usertree
from filerate.corpus import tree
from filerate.errors import UserError


def make_tree(root: Path) -> Path:
    """A small tree with what real trees hold: odd names, binary and compressed files,
    empty files, symlinks (to a file, a directory and nowhere), a FIFO."""
    root.mkdir(parents=True, exist_ok=True)
    b = os.fsencode(root)
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("def f(x):\n    return x\n")
    (root / "README.md").write_text("# héllo wörld\n\nsome text\n")
    (root / "with space.txt").write_text("a b  c\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 40)
    (root / "log.gz").write_bytes(gzip.compress(b"line\n" * 1000))
    (root / "empty").write_bytes(b"")
    with open(b + b"/odd\nname\xff.txt", "wb") as fh:  # a newline and a non-UTF-8 byte
        fh.write(b"not utf-8 \xff\xfe name\n")
    os.symlink("README.md", root / "link-to-file")
    os.symlink("src", root / "link-to-dir")
    os.symlink("/nonexistent", root / "dangling")
    os.mkfifo(root / "fifo")
    return root


def snapshot(root: Path) -> dict:
    """Every entry's name, type, size, mtime and inode: what writing would change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        out[dirpath] = os.lstat(dirpath).st_mtime_ns
    return out


def test_reference_pass_reads_every_regular_file_and_writes_nothing_in_the_tree(tmp_path):
    root = make_tree(tmp_path / "tree")
    before = snapshot(root)
    rec = tree.reference_pass(root, tmp_path / "out", processes=2)
    assert snapshot(root) == before
    frame = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    assert rec["files"] == len(frame) == 7
    assert rec["symlinks_skipped"] == 3
    assert [s["path"] for s in rec["skipped"]] == ["fifo"]
    assert frame["reference_error"].isna().all()
    for row in frame.itertuples():
        data = (root / os.fsdecode(row.path_raw)).read_bytes()
        truth = reference.truth(data, row.path_raw)
        assert (row.bytes, row.xxh3, row.lines, row.words) == (
            truth["bytes"],
            truth["xxh3"],
            truth["lines"],
            truth["words"],
        )
        assert row.mtime_ns > 0 and row.ino > 0
    assert frame["path_raw"].is_monotonic_increasing
    assert b"odd\nname\xff.txt" in set(frame["path_raw"])
    assert bool(frame.set_index("path")["binary"]["data.bin"])


def test_out_inside_the_tree_is_refused(tmp_path):
    root = make_tree(tmp_path / "tree")
    with pytest.raises(UserError, match="inside the tree"):
        tree.reference_pass(root, root / "results")


def test_a_missing_tree_is_one_line_naming_it(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path / "nope")):
        tree.reference_pass(tmp_path / "nope", tmp_path / "out")


def test_changed_rows_names_files_changed_since_the_reference_pass(tmp_path):
    root = make_tree(tmp_path / "tree")
    tree.reference_pass(root, tmp_path / "out", processes=1)
    frame = pd.read_parquet(tmp_path / "out" / "manifest.parquet")
    rows = {p: i for i, p in enumerate(frame["path"])}
    (root / "with space.txt").write_text("x y  z\n")  # same size, new content
    os.unlink(root / "empty")
    got = tree.changed_rows(frame, str(root), list(rows.values()))
    assert set(got) == {rows["with space.txt"], rows["empty"]}
    assert got[rows["with space.txt"]].endswith(" differ")  # which identity fields changed
    assert "No such file" in got[rows["empty"]]
    # a synthetic manifest has no identity columns: nothing is reclassified
    assert tree.changed_rows(frame.drop(columns=["mtime_ns"]), str(root), [0]) == {}


def test_tree_mode_replaces_corpora_and_phases(tmp_path):
    root = make_tree(tmp_path / "tree")
    conf = cfg.validate(
        {
            "corpora": {"small": {"files": 10}},
            "phases": {"baseline": {"corpus": "small"}},
            "ablation": True,
            "tree": str(root),
            "tree_phase": {"workers": 4, "analysis": "minimal"},
        }
    )
    assert conf["corpora"] == {"tree": {"source": "tree", "path": str(root), **_defaults(conf)}}
    phases = cfg.phases(conf)
    assert list(phases) == list(usertree.TREE_PHASES)
    assert [(p["staging"], p["cache"]) for p in phases.values()] == [
        (False, "warm"),
        (False, "cold"),
        (True, "cold"),
    ]
    assert all(p["workers"] == 4 and p["analysis"] == "minimal" for p in phases.values())


def test_tree_phases_default_to_queue_depth_threads(tmp_path):
    root = make_tree(tmp_path / "tree")
    phases = cfg.phases(cfg.validate({"corpora": {}, "phases": {}, "tree": str(root)}), 2)
    assert all(p["workers"] == "cpu_count*8" for p in phases.values())
    assert all(p["resolved"]["total_threads"] == 16 for p in phases.values())


def _defaults(conf):
    return {k: v for k, v in conf["corpora"]["tree"].items() if k not in ("source", "path")}


def test_tree_mode_with_a_missing_tree_is_one_line(tmp_path):
    with pytest.raises(cfg.ConfigError, match="is not an existing directory") as info:
        cfg.validate({"corpora": {}, "phases": {}, "tree": str(tmp_path / "missing")})
    assert "\n" not in str(info.value)


def test_a_corpus_without_files_is_refused_unless_it_is_a_tree():
    with pytest.raises(cfg.ConfigError, match="'files' is a required property"):
        cfg.validate({"corpora": {"c": {"seed": 1}}, "phases": {"p": {"corpus": "c"}}})
