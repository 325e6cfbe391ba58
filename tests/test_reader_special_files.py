"""Reading in place (staging: false): a corpus file replaced by a FIFO, a symlink or a
directory is recorded as an error, never followed and never waited on."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from filerate import corpus
from filerate.engine import tasks
from filerate.engine.records import ErrorKind


@pytest.fixture
def damaged(tmp_path):
    out = tmp_path / "c"
    corpus.generate("c", {"files": 40, "seed": 9, "empty_rate": 0.0}, out)
    manifest = pd.read_parquet(out / "manifest.parquet")
    files = out / "files"
    rel = [os.fsdecode(p) for p in manifest["path_raw"]]
    fifo, link, folder = rel[1], rel[2], rel[3]
    os.unlink(files / fifo)
    os.mkfifo(files / fifo)
    os.unlink(files / link)
    os.symlink(files / rel[0], files / link)  # points at a real file: must not be followed
    os.unlink(files / folder)
    os.mkdir(files / folder)
    return out, len(manifest)


def test_fifo_symlink_and_directory_are_errors_not_hangs(damaged):
    out, n = damaged
    spec = {
        "manifest": str(out / "manifest.parquet"),
        "data_dir": str(out / "files"),
        "start": 0,
        "stop": n,
        "analysis": "light",
        "max_file_bytes": 1 << 28,
        "gpu_budget_bytes": 1 << 20,
        "device": "cpu",
        "phase": "p",
    }
    res = tasks.analyse_batch(spec)
    assert res.status[0] == 0 and (res.status[4:] == 0).all()
    reasons = {i: e.message for i, e in res.errors.items()}
    assert set(reasons) == {1, 2, 3}
    kinds = [res.errors[i].kind for i in (1, 2, 3)]
    assert kinds == [ErrorKind.SHRANK, ErrorKind.OPEN_FAILED, ErrorKind.READ_FAILED]
    assert reasons[1].startswith("changed since manifest (shrank)")  # FIFO: 0 bytes
    assert reasons[2].startswith("open failed")  # symlink refused (O_NOFOLLOW)
    assert "symbolic links" in reasons[2]
    assert reasons[3].startswith("read failed")  # a directory cannot be read
