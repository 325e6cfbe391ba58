"""filerate.stage: RAM-disk staging, its budget checks, leftovers and failures."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from filerate import corpus, stage
from filerate.errors import UserError
from filerate.units import GIB


def _walk_files(root: Path) -> dict[bytes, bytes]:
    """Relative bytes path -> content of every regular file under root."""
    rootb = os.fsencode(root)
    out = {}
    for dirpath, _dirs, files in os.walk(rootb):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, rootb)] = fh.read()
    return out


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("stage-corpus")
    corpus.generate("st", {"files": 200, "seed": 5, "files_per_dir": 40}, out, processes=1)
    return out


@pytest.fixture
def fresh_corpus(tmp_path):
    """A corpus the test may damage."""
    out = tmp_path / "corpus"
    corpus.generate("st2", {"files": 60, "seed": 6, "files_per_dir": 20}, out, processes=1)
    return out


def _stage(corpus_dir, dest, **kw):
    kw.setdefault("phase", "p")
    kw.setdefault("min_free_memory_gb", 0)
    kw.setdefault("threads", 3)
    return stage.stage(
        str(corpus_dir / "manifest.parquet"), str(corpus_dir / "files"), str(dest), **kw
    )


def test_stage_to_tmpfs_is_byte_identical(small_corpus, shm_dir):
    dest = shm_dir / "run" / "phase"
    rec = _stage(small_corpus, dest, corpus="st", budget_gb=1.0)
    manifest = pd.read_parquet(small_corpus / "manifest.parquet")
    assert dest.is_dir()
    assert _walk_files(dest) == _walk_files(small_corpus / "files")
    assert set(_walk_files(dest)) == set(manifest["path_raw"])
    # the record (docs/DATA.md, results/staging/{phase}.json)
    assert rec["phase"] == "p" and rec["corpus"] == "st"
    assert rec["staged"] is True
    assert rec["staged_dir"] == str(dest)
    assert rec["ramdisk_root"] == str(dest.parent)
    assert rec["source_dir"] == os.path.abspath(small_corpus / "files")
    assert rec["fs_type"] == "tmpfs" and rec["is_tmpfs"] is True
    assert rec["warning"] is None
    assert rec["files"] == len(manifest) == 200
    assert rec["bytes"] == int(manifest["bytes"].sum())
    assert rec["seconds"] > 0
    assert rec["files_per_s"] > 0 and rec["mb_per_s"] > 0
    assert rec["files_per_s"] == pytest.approx(rec["files"] / rec["seconds"])
    assert rec["failed"] == [] and rec["failed_count"] == 0
    assert rec["budget_bytes"] == GIB
    assert rec["available_memory_before"] > 0
    assert rec["estimated_bytes"] >= rec["bytes"]
    # whole pages per file: the estimate covers what the tmpfs really used
    assert rec["occupied_bytes"] <= rec["estimated_bytes"]
    assert rec["occupied_bytes"] > 0
    # no partial copy left beside it
    assert [p.name for p in dest.parent.iterdir()] == ["phase"]


def test_record_is_json_serialisable(small_corpus, shm_dir):
    import json

    rec = _stage(small_corpus, shm_dir / "phase")
    assert json.loads(json.dumps(rec)) == rec
    assert rec["budget_bytes"] is None


def test_stage_to_disk_warns(small_corpus, tmp_path):
    mount, fstype = stage.filesystem(str(tmp_path))
    if fstype in ("tmpfs", "ramfs"):
        pytest.skip("tmp_path is on a RAM disk here")
    dest = tmp_path / "stage" / "phase"
    rec = _stage(small_corpus, dest)
    assert rec["is_tmpfs"] is False
    assert rec["fs_type"] == fstype
    assert rec["warning"] and "not a RAM disk" in rec["warning"]
    assert _walk_files(dest) == _walk_files(small_corpus / "files")


def test_leftovers_are_removed_not_trusted(small_corpus, shm_dir):
    dest = shm_dir / "phase"
    dest.mkdir()
    (dest / "stale.txt").write_bytes(b"from an earlier run")
    (dest / "pkg_0000").mkdir()
    partial = shm_dir / "phase.partial-123"
    (partial / "deep").mkdir(parents=True)
    (partial / "deep" / "x").write_bytes(b"half a copy")
    other = shm_dir / "other-phase"  # a sibling that is not ours stays
    other.mkdir()
    rec = _stage(small_corpus, dest)
    assert not (dest / "stale.txt").exists()
    assert not partial.exists()
    assert other.is_dir()
    assert sorted(p.name for p in shm_dir.iterdir()) == ["other-phase", "phase"]
    assert _walk_files(dest) == _walk_files(small_corpus / "files")
    assert rec["files"] == 200


def test_vanished_source_file_is_recorded_not_fatal(fresh_corpus, shm_dir):
    manifest = pd.read_parquet(fresh_corpus / "manifest.parquet")
    gone = manifest["path_raw"].iloc[7]
    os.unlink(os.path.join(os.fsencode(fresh_corpus / "files"), gone))
    dest = shm_dir / "phase"
    rec = _stage(fresh_corpus, dest)
    assert rec["failed_count"] == 1
    assert rec["failed"] == [{"path": os.fsdecode(gone), "error": "No such file or directory"}]
    assert rec["files"] == len(manifest) - 1
    staged = _walk_files(dest)
    assert gone not in staged
    assert staged == _walk_files(fresh_corpus / "files")


def test_budget_below_footprint_refuses_before_copying(small_corpus, shm_dir):
    dest = shm_dir / "phase"
    leftover = shm_dir / "phase.partial-9"
    leftover.mkdir()
    with pytest.raises(UserError) as info:
        _stage(small_corpus, dest, budget_gb=0.0001)
    msg = str(info.value)
    assert "\n" not in msg
    assert "ramdisk_budget_gb" in msg and "0.0001" in msg
    assert "3.0 MB" in msg and "(0.0001 GiB)" in msg and "200 files" in msg  # converted, decimal
    assert "staging: false" in msg
    assert not dest.exists()
    assert leftover.is_dir()  # nothing was touched
    assert [p.name for p in shm_dir.iterdir()] == ["phase.partial-9"]


def test_budget_exactly_at_footprint_is_accepted(small_corpus, shm_dir):
    manifest = pd.read_parquet(small_corpus / "manifest.parquet")
    dirs = {os.path.dirname(p) for p in manifest["path_raw"]} - {b""}
    need = stage.estimate_footprint(manifest["bytes"].to_numpy(), len(dirs))
    rec = _stage(small_corpus, shm_dir / "phase", budget_gb=need / GIB)
    assert rec["estimated_bytes"] == need
    with pytest.raises(UserError):
        _stage(small_corpus, shm_dir / "phase2", budget_gb=(need - 1) / GIB)


def test_low_free_memory_refuses_before_copying(small_corpus, shm_dir):
    dest = shm_dir / "phase"
    with pytest.raises(UserError) as info:
        _stage(small_corpus, dest, min_free_memory_gb=1e9)
    msg = str(info.value)
    assert "\n" not in msg
    assert "min_free_memory_gb" in msg and "available" in msg
    assert "staging: false" in msg
    assert not dest.exists()
    assert list(shm_dir.iterdir()) == []


def test_estimate_footprint_counts_whole_pages():
    import numpy as np

    sizes = np.array([0, 1, 4096, 4097, 10000])
    assert stage.estimate_footprint(sizes, 0) == (0 + 1 + 1 + 2 + 3) * 4096
    assert stage.estimate_footprint(sizes, 2) == (7 + 2) * 4096


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_filling_up_the_ramdisk_aborts_and_cleans_up(tmp_path, tiny_tmpfs):
    out = tmp_path / "corpus"
    corpus.generate("fill", {"files": 40, "seed": 3, "mean_bytes": 2000}, out, processes=1)
    manifest = pd.read_parquet(out / "manifest.parquet")
    # the estimate fits in 1 MiB, but one file grows after the manifest was made
    assert stage.estimate_footprint(manifest["bytes"].to_numpy(), 1) < (1 << 20) // 2
    grow = os.path.join(os.fsencode(out / "files"), manifest["path_raw"].iloc[5])
    with open(grow, "ab") as fh:
        fh.write(b"x" * 3_000_000)
    dest = tiny_tmpfs / "phase"
    with pytest.raises(UserError) as info:
        _stage(out, dest, threads=2)
    msg = str(info.value)
    assert "\n" not in msg
    assert "filled up" in msg and "partial copy was removed" in msg
    assert not dest.exists()
    assert list(tiny_tmpfs.iterdir()) == []  # no .partial-* left
    assert stage.filesystem(str(tiny_tmpfs))[1] == "tmpfs"


def test_free_space_on_the_ramdisk_is_checked_before_copying(small_corpus, tiny_tmpfs):
    # 200 files need ~3 MB: more than the 1 MiB mount has
    with pytest.raises(UserError) as info:
        _stage(small_corpus, tiny_tmpfs / "phase")
    assert "free" in str(info.value) and "staging: false" in str(info.value)
    assert list(tiny_tmpfs.iterdir()) == []


def test_ramdisk_run_dir(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ra = stage.ramdisk_run_dir("/dev/shm", str(a))
    assert ra == stage.ramdisk_run_dir("/dev/shm", str(a))
    assert ra != stage.ramdisk_run_dir("/dev/shm", str(b))
    assert ra.parent == stage.ramdisk_run_dir("/dev/shm", str(b)).parent
    assert ra.parent.parent == Path("/dev/shm")
    assert ra.parent.name.startswith("filerate-")
    # the same directory reached through a symlink or a trailing slash is the same workdir
    link = tmp_path / "link"
    link.symlink_to(a)
    assert stage.ramdisk_run_dir("/dev/shm", str(link)) == ra
    assert stage.ramdisk_run_dir("/dev/shm", str(a) + "/") == ra
    assert stage.ramdisk_run_dir("/other", str(a)).name == ra.name


def test_ramdisk_run_dir_defaults_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert stage.ramdisk_run_dir("/dev/shm") == stage.ramdisk_run_dir("/dev/shm", str(tmp_path))


def test_remove_run_dir(tmp_path):
    root = tmp_path / "root"
    run_dir = stage.ramdisk_run_dir(str(root), str(tmp_path))
    (run_dir / "phase").mkdir(parents=True)
    (run_dir / "phase" / "f").write_bytes(b"x")
    stage.remove_run_dir(str(root), str(tmp_path))
    assert not run_dir.exists()
    stage.remove_run_dir(str(root), str(tmp_path))  # twice is fine


def test_filesystem_finds_the_mount():
    assert stage.filesystem("/")[0] == "/"
    if os.path.ismount("/dev/shm"):
        assert stage.filesystem("/dev/shm/does-not-exist")[0] == "/dev/shm"
