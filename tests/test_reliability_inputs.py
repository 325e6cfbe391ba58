"""Reliability with bad input (docs/RELIABILITY.md): real trees, real staging, real Dask.

A real directory with awkward names, empty and binary files, symlinks of every bad kind
and a FIFO becomes a corpus; its staged copy is then damaged the way a live tree changes
under a benchmark (files grow, shrink, vanish, turn unreadable, one is too large), and a
real phase runs over it. Every file ends as ok (and right) or as an error with a reason.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from filerate import cli, corpus, stage
from filerate import config as cfg
from filerate import validate as val
from filerate.engine import process

AWKWARD = {
    b"with space.txt": b"two words\n",
    b"new\nline.md": b"# title\n\nbody text here\n",
    b"-leading-dash.py": b"import os\n",
    b"--.csv": b"a,b\r\n1,2\r\n",
    b"bad\xffbyte.txt": b"caf\xc3\xa9 ok\n",
    b"sub dir/\xe9t\xe9 \xff.log": b"caf\xc3\xa9 \xff\xfe ok\n",
    b"sub dir/-n": b"echo -n\n",
    b"empty-1.txt": b"",
    b"sub dir/empty-2.py": b"",
    b"blob.bin": bytes(range(256)) * 8,  # binary: holds NUL bytes
    b"x" * 200 + b".txt": b"long name\n",
}
BIG = b"big.log"  # larger than max_file_bytes below
MAX_FILE_BYTES = 100_000
# what the phase finds when it runs (the staged copy is damaged after the manifest)
GROWS, SHRINKS, VANISHES, UNREADABLE = b"d0/f1.py", b"d1/f2.py", b"d2/f3.py", b"d0/f4.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("reliability-tree")
    root, outside = base / "tree", base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("never read\n")
    for d in range(3):
        for f in range(12):
            p = root / f"d{d}" / f"f{f}.py"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"value = {d * 100 + f}\n" * (f + 3))
    rootb = os.fsencode(root)
    for rel, data in {**AWKWARD, BIG: b"log line\n" * 20_000}.items():
        path = rootb + b"/" + rel
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    os.symlink(outside, root / "link-out")  # a directory outside the tree
    os.symlink(outside / "secret.txt", root / "d0" / "secret-link.txt")  # a file outside
    os.symlink("loop", root / "loop")  # a link to itself
    os.symlink("..", root / "d1" / "up")  # a directory loop
    os.symlink("missing", root / "dangling")
    os.mkfifo(root / "fifo")  # opening it would block: must be skipped, not read
    return root


@pytest.fixture(scope="module")
def tree_corpus(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("reliability-corpus")
    rec = corpus.generate("tree", {"source": "directory", "path": str(tree), "files": 10_000}, out)
    return out, rec


def test_directory_corpus_skips_links_and_specials(tree_corpus):
    """Symlinks (loop, directory loop, outside file and directory, dangling) are never
    followed and a FIFO is never opened; the awkward names all make it in."""
    out, rec = tree_corpus
    m = pd.read_parquet(out / "manifest.parquet")
    names = set(m["path_raw"])
    assert set(AWKWARD) | {BIG} <= names
    assert rec["files"] == 36 + len(AWKWARD) + 1 == len(m)
    assert rec["symlinks_skipped"] == 5
    assert {"path": "fifo", "reason": "not a regular file"} in rec["skipped"]
    assert not any(b"secret" in p or b"link-out" in p or b"up/" in p for p in names)
    assert m.set_index("path_raw").loc[b"blob.bin", "binary"]


def _settings(**overrides):
    phase = {
        "corpus": "c",
        "backend": "cpu",
        "workers": 2,
        "batch_size": 8,
        "repeats": 2,
        "min_repeat_s": 0,
        "warmup": 1,
        "staging": True,
        "analysis": "light",
        "max_file_bytes": MAX_FILE_BYTES,
        "timeout_s": 120,
    }
    phase.update(overrides)
    conf = cfg.validate({"corpora": {"c": {"files": 1}}, "phases": {"tree": phase}}, cpu_count=2)
    return cfg.phases(conf, cpu_count=2)["tree"]


@pytest.mark.slow
def test_awkward_and_changing_files_end_to_end(tree_corpus, shm_dir, tmp_path):
    """Stage the tree corpus to tmpfs, change it under the manifest, run a real phase:
    ok files are right (validate), each bad one carries the reason a user expects, and
    every repeat accounts for every file."""
    out, _ = tree_corpus
    manifest_path = str(out / "manifest.parquet")
    staged = shm_dir / "tree"
    rec = stage.stage(
        manifest_path, str(out / "files"), str(staged), phase="tree", min_free_memory_gb=0
    )
    assert rec["failed_count"] == 0 and rec["files"] == 36 + len(AWKWARD) + 1
    s = os.fsencode(staged)
    with open(s + b"/" + GROWS, "ab") as fh:
        fh.write(b"# appended after the manifest\n")
    with open(s + b"/" + SHRINKS, "r+b") as fh:
        fh.truncate(5)
    os.unlink(s + b"/" + VANISHES)
    # unreadable: root reads a mode-000 file, so (as root) the file becomes a directory
    os.unlink(s + b"/" + UNREADABLE)
    if os.geteuid() == 0:
        os.mkdir(s + b"/" + UNREADABLE)
        unreadable_reason = "read failed"
    else:
        with open(s + b"/" + UNREADABLE, "wb") as fh:
            fh.write(b"secret\n")
        os.chmod(s + b"/" + UNREADABLE, 0)
        unreadable_reason = "open failed: Permission denied"

    run = process.run_phase(_settings(), manifest_path, str(staged), rec, tmp_path / "phase")
    assert run["status"] == "ok" and run["corpus"]["staged"] is True
    manifest = pd.read_parquet(manifest_path)
    files = pd.read_parquet(tmp_path / "phase" / "files.parquet")
    assert files["path_raw"].tolist() == manifest["path_raw"].tolist()
    errors = files[files["status"] == "error"].set_index("path_raw")["error"]
    big = int(manifest.set_index("path_raw").loc[BIG, "bytes"])
    assert errors[BIG] == f"too large: {big} bytes > max_file_bytes {MAX_FILE_BYTES}"
    assert errors[GROWS].startswith("changed since manifest (grew): read ")
    assert errors[SHRINKS] == (
        "changed since manifest (shrank): read 5 bytes, manifest says "
        f"{int(manifest.set_index('path_raw').loc[SHRINKS, 'bytes'])}"
    )
    assert errors[VANISHES] == "vanished: No such file or directory"
    assert errors[UNREADABLE] == unreadable_reason
    assert set(errors.index) == {BIG, GROWS, SHRINKS, VANISHES, UNREADABLE}
    # the awkward names, empty and binary files are ok and right
    ok = files[files["status"] == "ok"].set_index("path_raw")
    assert set(AWKWARD) <= set(ok.index)
    assert ok.loc[b"blob.bin", "binary"] and ok.loc[b"blob.bin", "type"] == "binary"
    assert ok.loc[b"empty-1.txt", "bytes"] == 0 and ok.loc[b"empty-1.txt", "words"] == 0
    assert ok.loc[b"new\nline.md", "lines"] == 3
    assert files.set_index("path_raw").loc[b"bad\xffbyte.txt", "path"] == "bad\\xffbyte.txt"
    v = val.validate(manifest, files, run)
    assert v["ok"] and v["mismatches"] == 0 and v["repeats_accounted"], v
    assert v["files_error"] == 5 and v["files_ok"] == len(manifest) - 5
    by_reason = {
        "too large": 1,
        "changed since manifest (grew)": 1,
        "changed since manifest (shrank)": 1,
        "vanished": 1,
        unreadable_reason.split(":")[0]: 1,
    }
    assert v["errors_by_reason"] == by_reason
    assert run["errors_by_reason"] == by_reason
    for r in run["repeats"]:  # warm-up and both timed repeats
        assert (r["files_ok"], r["files_error"]) == (len(manifest) - 5, 5)

    # the commands a user reads: validate passes, the reports list the errors by reason
    phase, rep = tmp_path / "phase", tmp_path / "reports"
    assert (
        cli.main(
            ["validate", "--manifest", manifest_path, "--phase-dir", str(phase)]
            + ["--out", str(phase / "validation.json")]
        )
        == 0
    )
    dirs = ["--phase-dir", str(phase)]
    tsv, md, bj = rep / "t.tsv", rep / "b.md", rep / "b.json"
    assert cli.main(["tables", *dirs, "--tsv", str(tsv), "--md", str(rep / "t.md")]) == 0
    assert cli.main(["bottlenecks", *dirs, "--md", str(md), "--json", str(bj)]) == 0
    html = rep / "index.html"
    assert (
        cli.main(
            ["report", *dirs, "--tables", str(tsv), "--bottlenecks", str(bj)]
            + ["--plots-dir", str(rep / "plots"), "--out", str(html)]
        )
        == 0
    )
    for reason in by_reason:
        assert f"{reason}: 1" in md.read_text(), reason
        assert f"{reason}: 1" in html.read_text(), reason


def test_missing_source_directory_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no-such-tree"
    settings = {"source": "directory", "path": str(missing), "files": 10}
    with pytest.raises(cfg.ConfigError) as info:
        corpus.generate("real", settings, tmp_path / "out")
    msg = str(info.value)
    assert "\n" not in msg
    assert "corpora.real.path" in msg and str(missing) in msg and "existing directory" in msg
    assert not (tmp_path / "out").exists()
    # the command: exit 2, one line, no traceback
    rc = cli.main(
        ["corpus", "--name", "real", "--settings", json.dumps(settings), "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("filerate corpus: error: ")
    assert str(missing) in err


@pytest.mark.parametrize("content", ["empty", "only-links-and-specials"])
def test_empty_source_directory_is_one_line(tmp_path, content):
    src = tmp_path / "src"
    src.mkdir()
    if content != "empty":
        (tmp_path / "elsewhere.txt").write_text("x\n")
        os.symlink(tmp_path / "elsewhere.txt", src / "link.txt")
        os.mkfifo(src / "fifo")
        (src / "empty-dir").mkdir()
    with pytest.raises(cfg.ConfigError) as info:
        corpus.generate(
            "real", {"source": "directory", "path": str(src), "files": 5}, tmp_path / "o"
        )
    msg = str(info.value)
    assert "\n" not in msg
    assert "corpora.real.path" in msg and "holds no readable regular files" in msg
    assert not (tmp_path / "o" / "manifest.parquet").exists()
    assert not (tmp_path / "o" / "files").exists()
    assert [p.name for p in (tmp_path / "o").iterdir()] == []  # no partial tree left


def test_two_working_directories_never_share_a_staged_copy(tmp_path, shm_dir):
    """Two workflows (different working directories) stage the same phase name under one
    RAM-disk root: each gets its own folder, and cleaning one leaves the other intact."""
    src = tmp_path / "corpus"
    corpus.generate("two", {"files": 30, "seed": 9}, src, processes=1)
    wa, wb = tmp_path / "a", tmp_path / "b"
    wa.mkdir()
    wb.mkdir()
    ra, rb = (stage.ramdisk_run_dir(str(shm_dir), str(w)) for w in (wa, wb))
    assert ra != rb
    for run_dir in (ra, rb):
        stage.stage(
            str(src / "manifest.parquet"),
            str(src / "files"),
            str(run_dir / "baseline"),
            phase="baseline",
            min_free_memory_gb=0,
        )
    stage.remove_run_dir(str(shm_dir), str(wa))
    assert not ra.exists()
    assert len(list((rb / "baseline").rglob("*.*"))) == 30


@pytest.mark.timeout(60)
def test_staging_never_follows_or_blocks_on_a_replaced_file(tmp_path, shm_dir):
    """Corpus files replaced by a FIFO, a symlink to outside and a directory: staging
    records each as failed (it never blocks on the FIFO or copies through the link) and
    copies the rest (processing then reports them `vanished`, like any missing file)."""
    src = tmp_path / "corpus"
    corpus.generate("swap", {"files": 20, "seed": 4, "files_per_dir": 20}, src, processes=1)
    manifest = pd.read_parquet(src / "manifest.parquet")
    files = os.fsencode(src / "files")
    fifo, link, folder = (manifest["path_raw"].iloc[i] for i in (3, 7, 11))
    (tmp_path / "outside.txt").write_text("not part of the corpus\n")
    for rel in (fifo, link, folder):
        os.unlink(files + b"/" + rel)
    os.mkfifo(files + b"/" + fifo)
    os.symlink(tmp_path / "outside.txt", files + b"/" + link)
    os.mkdir(files + b"/" + folder)
    rec = stage.stage(
        str(src / "manifest.parquet"),
        str(src / "files"),
        str(shm_dir / "p"),
        phase="p",
        min_free_memory_gb=0,
    )
    failed = {f["path"]: f["error"] for f in rec["failed"]}
    assert failed == {
        os.fsdecode(fifo): "not a regular file",
        os.fsdecode(link): "Too many levels of symbolic links",
        os.fsdecode(folder): "not a regular file",
    }
    assert rec["files"] == 17 and rec["failed_count"] == 3
    staged = os.fsencode(shm_dir / "p")
    for rel in (fifo, link, folder):
        assert not os.path.lexists(staged + b"/" + rel)
