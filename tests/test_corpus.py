"""`filerate corpus`: synthetic and directory corpora, their manifests and the CLI."""

from __future__ import annotations

import json
import os
import re
from itertools import combinations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filerate import cli, corpus, reference
from filerate.corpus import directory, progress
from filerate.corpus import synthetic as generator  # "synthetic" is a fixture here
from filerate.corpus.synthetic import Plan
from filerate.errors import ConfigError

SETTINGS = {
    "files": 400,
    "seed": 11,
    "mean_bytes": 5000,
    "files_per_dir": 25,
    "empty_rate": 0.02,
    "binary_rate": 0.02,
    "non_ascii_rate": 0.1,
    "duplicate_rate": 0.05,
    "near_duplicate_rate": 0.05,
}
SCHEMA = {
    "path": pa.string(),
    "path_raw": pa.binary(),
    "bytes": pa.int64(),
    "type": pa.string(),
    "xxh3": pa.string(),
    "lines": pa.int64(),
    "words": pa.int64(),
    "non_ascii": pa.int64(),
    "binary": pa.bool_(),
    "dup_group": pa.int64(),
    "near_dup_group": pa.int64(),
}


def _load(out):
    return pd.read_parquet(out / "manifest.parquet"), json.loads((out / "corpus.json").read_text())


def _tree(root) -> set[bytes]:
    """Relative bytes paths of every non-directory under ``root`` (no symlinks followed)."""
    root = os.fsencode(root)
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "corpus"
    record = corpus.generate("syn", SETTINGS, out)
    return out, record


# --------------------------------------------------------------------------- synthetic


def test_outputs_match_data_md(synthetic):
    out, record = synthetic
    manifest, stored = _load(out)
    assert stored == json.loads(json.dumps(record))
    schema = pq.read_schema(out / "manifest.parquet")
    assert {f.name: f.type for f in schema} == SCHEMA
    assert list(manifest.columns) == list(SCHEMA)
    paths = list(manifest["path_raw"])
    assert paths == sorted(paths) and len(set(paths)) == len(paths) == 400
    assert _tree(out / "files") == set(paths)
    sizes = [os.stat(out / "files" / os.fsdecode(p)).st_size for p in paths]
    assert sizes == list(manifest["bytes"])
    assert (manifest["path"] == [p.decode() for p in paths]).all()
    for key in (
        "name",
        "source",
        "files",
        "bytes",
        "seed",
        "settings",
        "seconds",
        "files_per_s",
        "mb_per_s",
        "manifest_digest",
    ):
        assert key in stored
    assert stored["name"] == "syn" and stored["source"] == "synthetic"
    assert stored["files"] == 400 and stored["bytes"] == int(manifest["bytes"].sum())
    assert stored["seed"] == 11 and stored["settings"]["max_bytes"] == 4194304  # default filled
    assert stored["manifest_digest"] == corpus.manifest_digest(manifest)
    assert re.fullmatch(r"[0-9a-f]{64}", stored["manifest_digest"])
    assert stored["seconds"] > 0 and stored["files_per_s"] > 0 and stored["mb_per_s"] > 0
    assert sorted(os.listdir(out)) == ["corpus.json", "files", "manifest.parquet"]


def test_manifest_is_reference_truth(synthetic):
    out, _ = synthetic
    manifest, _ = _load(out)
    for row in manifest.iloc[::7].itertuples():
        data = (out / "files" / os.fsdecode(row.path_raw)).read_bytes()
        t = reference.truth(data, row.path_raw)
        assert t == {k: getattr(row, k) for k in t}


def test_layout(synthetic):
    out, _ = synthetic
    manifest, _ = _load(out)
    dirs = manifest["path_raw"].map(lambda p: p.rpartition(b"/")[0])
    assert (manifest["path_raw"].map(lambda p: p.count(b"/")) == 2).all()  # two levels
    assert dirs.value_counts().max() <= SETTINGS["files_per_dir"]
    assert dirs.nunique() == 400 // SETTINGS["files_per_dir"]
    pattern = re.compile(rb"pkg_\d{4}/mod_\d{2}/name_\d{6}(\.[A-Za-z]+)?")
    assert all(pattern.fullmatch(p) for p in manifest["path_raw"])


def test_mix(synthetic):
    out, record = synthetic
    m, _ = _load(out)
    counts = m["type"].value_counts()
    assert 0.45 < counts["python"] / len(m) < 0.75
    for t in ("markdown", "json", "text", "log", "csv", "binary", "other"):
        assert counts.get(t, 0) > 0, t
    empty = m[m["bytes"] == 0]
    assert len(empty) > 0 and (empty["lines"] == 0).all()
    binary = m[m["binary"]]
    assert len(binary) > 0 and (binary["type"] == "binary").all()
    assert binary["path_raw"].map(lambda p: p.endswith(b".bin")).all()
    non_ascii = m[(m["non_ascii"] > 0) & ~m["binary"]]
    assert len(non_ascii) >= 0.05 * len(m)
    for p in non_ascii["path_raw"]:
        (out / "files" / os.fsdecode(p)).read_bytes().decode("utf-8")  # valid UTF-8
    text = m[~m["binary"] & (m["bytes"] > 0)]
    assert (text["lines"] > 0).all() and (text["words"] > 0).all()
    assert record["types"] == {k: int(v) for k, v in counts.sort_index().items()}


def test_planted_duplicates(synthetic):
    out, record = synthetic
    m, _ = _load(out)
    dups = m[m["dup_group"] >= 0].groupby("dup_group")
    assert dups.ngroups >= 5
    assert record["planted"]["dup_groups"] == dups.ngroups
    assert record["planted"]["duplicate_copies"] == 20  # 5 % of 400
    for _, g in dups:
        assert len(g) >= 2 and g["xxh3"].nunique() == 1 and g["bytes"].iloc[0] > 0
        assert g["type"].nunique() == 1
    assert m.loc[m["dup_group"] >= 0].groupby("dup_group")["xxh3"].first().is_unique
    # apart from the planted copies, no two non-empty files are identical
    others = m[(m["dup_group"] < 0) & (m["bytes"] > 0)]
    assert others["xxh3"].is_unique


def test_planted_near_duplicates(synthetic):
    out, record = synthetic
    m, _ = _load(out)
    near = m[m["near_dup_group"] >= 0].groupby("near_dup_group")
    assert near.ngroups >= 5
    assert record["planted"]["near_duplicate_copies"] == 20
    for _, g in near:
        assert len(g) >= 2 and g["bytes"].nunique() == 1 and g["xxh3"].is_unique
        contents = [
            np.frombuffer((out / "files" / os.fsdecode(p)).read_bytes(), dtype=np.uint8)
            for p in g["path_raw"]
        ]
        for a, b in combinations(contents, 2):
            assert 1 <= int((a != b).sum()) <= 8  # a few bytes changed
        assert g["binary"].nunique() == 1 and g["type"].nunique() == 1
    assert not ((m["dup_group"] >= 0) & (m["near_dup_group"] >= 0)).any()


def test_sizes_follow_settings():
    plan = Plan(corpus.fill_settings("s", {"files": 20000, "seed": 3}))
    sizes = plan.size[~plan.empty]
    assert abs(sizes.mean() / 12800 - 1) < 0.05  # lognormal mean near mean_bytes
    assert abs(np.log(sizes).std() - 1.0) < 0.05  # sigma
    plan = Plan(corpus.fill_settings("s", {"files": 2000, "seed": 3, "max_bytes": 3000}))
    assert plan.size.max() <= 3000


def test_size_cap_on_disk(tmp_path):
    settings = {"files": 60, "seed": 1, "mean_bytes": 4000, "max_bytes": 1000}
    m, _ = _load_generated(tmp_path / "c", settings)
    assert m["bytes"].max() <= 1000


def _load_generated(out, settings, **kwargs):
    corpus.generate("c", settings, out, **kwargs)
    return _load(out)


def test_deterministic(synthetic, tmp_path, monkeypatch):
    out, record = synthetic
    m1, _ = _load(out)
    # same settings, built in 8 chunks by 2 processes: identical output
    monkeypatch.setattr(generator, "CHUNK_FILES", 50)
    m2, r2 = _load_generated(tmp_path / "again", SETTINGS, processes=2)
    assert r2["processes"] == 2
    assert r2["manifest_digest"] == record["manifest_digest"]
    pd.testing.assert_frame_equal(m1, m2)
    rng = np.random.default_rng(0)
    for p in m1["path_raw"].iloc[rng.choice(len(m1), 40, replace=False)]:
        rel = os.fsdecode(p)
        assert (out / "files" / rel).read_bytes() == (
            tmp_path / "again" / "files" / rel
        ).read_bytes()
    # another seed: another corpus
    m3, r3 = _load_generated(tmp_path / "seed12", {**SETTINGS, "seed": 12})
    assert r3["manifest_digest"] != record["manifest_digest"]
    same_path = set(m1["path_raw"]) & set(m3["path_raw"])
    a = m1.set_index("path_raw")["xxh3"]
    b = m3.set_index("path_raw")["xxh3"]
    assert sum(a[p] != b[p] for p in same_path) > 0.9 * len(same_path)


def test_rerun_replaces_old_output(synthetic, tmp_path):
    out = tmp_path / "c"
    settings = {**SETTINGS, "files": 50}
    corpus.generate("c", settings, out)
    (out / "files" / "stale.py").write_text("old\n")
    (out / ".files.partial-99999").mkdir()
    (out / ".files.partial-99999" / "x").write_text("half")
    (out / "notes.txt").write_text("not ours")  # left alone
    m, rec = _load_generated(out, settings)
    assert b"stale.py" not in set(m["path_raw"])
    assert _tree(out / "files") == set(m["path_raw"])
    assert sorted(os.listdir(out)) == ["corpus.json", "files", "manifest.parquet", "notes.txt"]


def test_crash_leaves_no_corpus(tmp_path, monkeypatch):
    out = tmp_path / "c"
    settings = {**SETTINGS, "files": 50}
    corpus.generate("c", settings, out)
    calls = {"n": 0}
    real = reference.truth

    def failing(data, rel):
        calls["n"] += 1
        if calls["n"] == 30:
            raise OSError(28, "No space left on device")
        return real(data, rel)

    monkeypatch.setattr(reference, "truth", failing)
    with pytest.raises(OSError):
        corpus.generate("c", settings, out, processes=1)
    assert os.listdir(out) == []  # old corpus gone, no half-written one


def test_progress_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(progress, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(generator, "CHUNK_FILES", 10)
    corpus.generate("prog", {**SETTINGS, "files": 100}, tmp_path / "c", processes=1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "corpus prog: 10/100 files"
    assert 5 <= len(lines) <= 10


def test_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="sigma"):
        corpus.generate("c", {"files": 10, "sigma": -1}, tmp_path / "c")
    with pytest.raises(ConfigError, match="files"):
        corpus.generate("c", {"seed": 1}, tmp_path / "c")
    assert not (tmp_path / "c").exists()


# --------------------------------------------------------------------------- directory mode

ODD = {
    b"with space.txt": b"two words\n",
    b"new\nline.md": b"# title\n\nbody text here\n",
    b"-leading-dash.py": b"import os\n",
    b"bad\xffbyte.txt": b"caf\xc3\xa9 ok",
    b"sub/.hidden": b"x\0y\n",
    b"sub/deeper/--.csv": b"a,b\r\n1,2\r\n",
}


@pytest.fixture()
def tree(tmp_path):
    root = tmp_path / "tree"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("must not be copied\n")
    for d in range(3):
        for f in range(10):
            p = root / f"d{d}" / f"f{f}.py"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"x = {d * 10 + f}\n" * (f + 1))
    rootb = os.fsencode(root)
    for rel, data in ODD.items():
        path = rootb + b"/" + rel
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    os.symlink(outside, root / "link-out")  # a directory outside the tree
    os.symlink(outside / "secret.txt", root / "d0" / "secret-link.txt")
    os.symlink("loop", root / "loop")  # a symlink loop
    os.symlink("..", root / "sub" / "up")  # a directory loop
    os.symlink("missing", root / "dangling")
    os.mkfifo(root / "fifo")
    return root


def _dir_settings(root, files, seed=5):
    return {"source": "directory", "path": str(root), "files": files, "seed": seed}


def test_directory_all_files(tree, tmp_path):
    out = tmp_path / "out"
    rec = corpus.generate("real", _dir_settings(tree, 1000), out)
    m, stored = _load(out)
    expected = {f"d{d}/f{f}.py".encode() for d in range(3) for f in range(10)} | set(ODD)
    assert set(m["path_raw"]) == expected
    assert list(m["path_raw"]) == sorted(expected)
    assert _tree(out / "files") == expected  # nothing from outside, no links copied
    assert rec["files"] == stored["files"] == 36 and rec["source"] == "directory"
    assert rec["all_files_used"] is True and "36" in rec["note"] and rec["requested_files"] == 1000
    assert rec["symlinks_skipped"] == 5
    assert {"path": "fifo", "reason": "not a regular file"} in rec["skipped"]
    assert rec["skipped_count"] == len(rec["skipped"])
    assert (m["dup_group"] == -1).all() and (m["near_dup_group"] == -1).all()
    by_path = m.set_index("path_raw")
    for rel, data in ODD.items():
        row = by_path.loc[rel]
        t = reference.truth(data, rel)
        assert {k: row[k] for k in t} == t, rel
        copied = os.fsencode(out / "files") + b"/" + rel
        with open(copied, "rb") as fh:
            assert fh.read() == data
    assert by_path.loc[b"bad\xffbyte.txt", "path"] == "bad\\xffbyte.txt"
    assert by_path.loc[b"new\nline.md", "path"] == "new\nline.md"
    assert by_path.loc[b"bad\xffbyte.txt", "non_ascii"] == 2
    assert by_path.loc[b"sub/.hidden", "type"] == "binary"
    assert by_path.loc[b"-leading-dash.py", "type"] == "python"
    assert by_path.loc[b"sub/deeper/--.csv", "lines"] == 2
    assert by_path.loc[b"with space.txt", "words"] == 2


def test_directory_sampling_is_deterministic(tree, tmp_path):
    def pick(seed, name):
        corpus.generate("real", _dir_settings(tree, 10, seed), tmp_path / name)
        m, rec = _load(tmp_path / name)
        assert rec["files"] == 10 and rec["all_files_used"] is False and "note" not in rec
        assert rec["candidates"] == 36
        return list(m["path_raw"]), rec["manifest_digest"]

    a, da = pick(5, "a")
    b, db = pick(5, "b")
    c, _ = pick(6, "c")
    assert a == b and da == db
    assert a != c


def test_directory_output_inside_tree_is_excluded(tree):
    out = tree / "results" / "corpus"
    for _ in range(2):
        rec = corpus.generate("real", _dir_settings(tree, 1000), out)
        assert rec["files"] == 36


def test_directory_source_inside_output_refused(tmp_path):
    out = tmp_path / "out"
    src = out / "files" / "src"
    src.mkdir(parents=True)
    (src / "a.txt").write_text("a\n")
    with pytest.raises(ConfigError, match="inside the output directory"):
        corpus.generate("real", _dir_settings(src, 10), out)
    assert (src / "a.txt").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read everything")
def test_directory_unreadable_skipped(tree, tmp_path):
    (tree / "d1" / "f3.py").chmod(0)
    (tree / "d2").chmod(0)
    try:
        rec = corpus.generate("real", _dir_settings(tree, 1000), tmp_path / "out")
    finally:
        (tree / "d2").chmod(0o755)
    reasons = {s["path"]: s["reason"] for s in rec["skipped"]}
    assert "d1/f3.py" in reasons and "d2" in reasons
    assert rec["files"] == 36 - 1 - 10


# --------------------------------------------------------------------------- command line


@pytest.fixture()
def only_corpus_step(monkeypatch):
    """The CLI with just this step (the other steps' modules are not needed here)."""
    monkeypatch.setattr(cli, "STEPS", {"corpus": "filerate.corpus.step"})


def _config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "corpora:\n  tiny: {source: synthetic, files: 30, seed: 2}\n"
        "phases:\n  baseline: {corpus: tiny}\n"
    )
    return path


def test_cli_help(only_corpus_step, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["corpus", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for word in ("--config", "--name", "--out", "manifest.parquet", "corpus.json", "symlinks"):
        assert word in text


def test_cli_bad_name(only_corpus_step, tmp_path, capsys):
    rc = cli.main(
        [
            "corpus",
            "--config",
            str(_config(tmp_path)),
            "--name",
            "nope",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err and "tiny" in err
    assert not (tmp_path / "out").exists()


def test_cli_run(only_corpus_step, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli.main(
        ["corpus", "--config", str(_config(tmp_path)), "--name", "tiny", "--out", str(out)]
    )
    assert rc == 0
    m, rec = _load(out)
    assert len(m) == 30 and rec["name"] == "tiny" and rec["seed"] == 2
    assert "30 files" in capsys.readouterr().out


def test_directory_unreadable_entries_recorded(tree, tmp_path, monkeypatch):
    """Unreadable files and directories (simulated: root reads everything) are skipped,
    listed, and replaced in the sample by the next candidates in the seeded order."""
    real_read, real_scandir = directory.read_file, os.scandir

    def read(path):
        if path.endswith(b"/d1/f3.py"):
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    def scandir(path):
        if os.fsencode(path).endswith(b"/d2"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(directory, "read_file", read)
    monkeypatch.setattr(os, "scandir", scandir)
    rec = corpus.generate("real", _dir_settings(tree, 1000), tmp_path / "all")
    reasons = {s["path"]: s["reason"] for s in rec["skipped"]}
    assert reasons["d1/f3.py"] == "cannot read: Permission denied"
    assert reasons["d2"] == "cannot list directory: Permission denied"
    assert rec["files"] == 36 - 1 - 10 and rec["candidates"] == 36 - 10
    m, _ = _load(tmp_path / "all")
    assert b"d1/f3.py" not in set(m["path_raw"])
    assert rec["all_files_used"] is True
    rec = corpus.generate("real", _dir_settings(tree, 20), tmp_path / "some")
    assert rec["files"] == 20  # the unreadable file's place is taken by another
    assert rec["all_files_used"] is False
    rec = corpus.generate("real", _dir_settings(tree, 25), tmp_path / "exact")
    assert rec["files"] == 25 and rec["all_files_used"] is True and "note" not in rec
