"""filerate.engine.tasks.analyse_batch (no Dask) and engine.process.run_phase (a real Dask run)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from filerate import config as cfg
from filerate import corpus
from filerate import validate as val
from filerate.engine import process, tasks
from filerate.engine.records import BATCH_COLUMNS, ErrorKind
from filerate.reference import TYPES

TIMING_KEYS = ("setup_s", "read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s", "pack_s")
PARTS = ("read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s", "pack_s")


@pytest.fixture(scope="module")
def task_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("task-corpus")
    corpus.generate("tc", {"files": 120, "seed": 31, "binary_rate": 0.05}, out, processes=1)
    return out


def _spec(c, **kw):
    spec = {
        "manifest": str(c / "manifest.parquet"),
        "data_dir": str(c / "files"),
        "start": 0,
        "stop": 120,
        "analysis": "light",
        "max_file_bytes": 1 << 28,
        "gpu_budget_bytes": 1 << 29,
        "device": "cpu",
    }
    spec.update(kw)
    return spec


# ---------------------------------------------------------------- analyse_batch


@pytest.mark.parametrize("start,stop", [(0, 120), (0, 1), (30, 77), (119, 120)])
def test_analyse_batch_light(task_corpus, start, stop):
    manifest = pd.read_parquet(task_corpus / "manifest.parquet")
    out = tasks.analyse_batch(_spec(task_corpus, start=start, stop=stop))
    m = manifest.iloc[start:stop]
    n = stop - start
    assert (out.start, out.stop) == (start, stop)
    assert out.status.tolist() == [0] * n
    assert out.bytes.tolist() == m["bytes"].tolist()
    assert [f"{int(h):016x}" for h in out.hash] == m["xxh3"].tolist()
    for col in ("lines", "words", "non_ascii"):
        assert getattr(out, col).tolist() == m[col].tolist(), col
    assert [TYPES[t] for t in out.type] == m["type"].tolist()
    assert out.errors == {}
    assert out.device == "cpu"
    assert out.worker == "local"
    assert out.pid == os.getpid()
    _check_timing(out)


def _check_timing(out):
    t = out.timing.to_dict()
    assert set(TIMING_KEYS) <= set(t)
    assert t["gpu_chunks"] == t["gpu_oversize_files"] == t["gpu_oom_splits"] == 0
    assert all(isinstance(t[k], float) and t[k] >= 0 for k in TIMING_KEYS), t
    assert t["h2d_s"] == t["d2h_s"] == 0.0  # no GPU
    assert out.t_stop >= out.t_start
    # docs/DATA.md: the parts never add up to more than the task's own span
    assert sum(t[k] for k in PARTS) <= out.t_stop - out.t_start + 1e-6


def test_analyse_batch_minimal(task_corpus):
    manifest = pd.read_parquet(task_corpus / "manifest.parquet")
    out = tasks.analyse_batch(_spec(task_corpus, analysis="minimal"))
    assert (out.status == 0).all()
    assert [f"{int(h):016x}" for h in out.hash] == manifest["xxh3"].tolist()
    for col in ("lines", "words", "non_ascii", "type"):
        assert getattr(out, col) is None
    assert out.timing.analyse_s == 0.0
    _check_timing(out)


def test_analyse_batch_reasons(tmp_path):
    c = tmp_path / "c"
    corpus.generate("tr", {"files": 40, "seed": 32, "empty_rate": 0}, c, processes=1)
    manifest = pd.read_parquet(c / "manifest.parquet")
    files = os.fsencode(c / "files")
    raw = manifest["path_raw"].tolist()
    os.unlink(os.path.join(files, raw[2]))  # vanished
    with open(os.path.join(files, raw[5]), "ab") as fh:  # grew
        fh.write(b"extra")
    with open(os.path.join(files, raw[6]), "r+b") as fh:  # shrank
        fh.truncate(int(manifest["bytes"].iloc[6]) - 1)
    big = int(manifest["bytes"].max())
    limit = big - 1
    out = tasks.analyse_batch(_spec(c, stop=40, max_file_bytes=limit))
    reasons = {i: e.message for i, e in out.errors.items()}
    kinds = {i: e.kind for i, e in out.errors.items()}
    assert (kinds[2], kinds[5], kinds[6]) == (ErrorKind.VANISHED, ErrorKind.GREW, ErrorKind.SHRANK)
    assert reasons[2] == "vanished: No such file or directory"
    assert reasons[5].startswith("changed since manifest (grew): read ")
    assert reasons[6].startswith("changed since manifest (shrank): read ")
    too_large = [i for i in range(40) if manifest["bytes"].iloc[i] > limit]
    assert too_large
    for i in too_large:
        assert reasons[i] == f"too large: {big} bytes > max_file_bytes {limit}"
    bad = {2, 5, 6, *too_large}
    assert set(reasons) == bad
    assert set(np.flatnonzero(out.status).tolist()) == bad
    for i in set(range(40)) - bad:
        assert f"{int(out.hash[i]):016x}" == manifest["xxh3"].iloc[i]
        assert out.words[i] == manifest["words"].iloc[i]
    _check_timing(out)


# ---------------------------------------------------------------- a real Dask run

FILES_COLUMNS = [
    "path",
    "path_raw",
    "status",
    "error",
    "bytes",
    "xxh3",
    "lines",
    "words",
    "non_ascii",
    "binary",
    "type",
]


def _settings(name="p"):
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 300}},
            "phases": {
                name: {
                    "corpus": "c",
                    "backend": "cpu",
                    "workers": 2,
                    "batch_size": 50,
                    "repeats": 2,
                    "min_repeat_s": 0,  # one pass per repeat: counts per repeat are exact
                    "warmup": 1,
                    "staging": False,
                    "timeout_s": 120,
                }
            },
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)[name]


@pytest.fixture(scope="module")
def dask_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("dask-corpus")
    corpus.generate("dc", {"files": 300, "seed": 41, "files_per_dir": 60}, out, processes=1)
    return out


@pytest.mark.slow
def test_run_phase(dask_corpus, tmp_path):
    settings = _settings()
    assert settings["resolved"]["processes"] == 2
    assert settings["resolved"]["threads_per_process"] == 1
    out = tmp_path / "out"
    manifest_path = str(dask_corpus / "manifest.parquet")
    result = process.run_phase(settings, manifest_path, str(dask_corpus / "files"), None, out)

    run = json.loads((out / "run.json").read_text())
    assert run == json.loads(json.dumps(result))
    assert run["phase"] == "p" and run["status"] == "ok"
    assert run["settings"]["resolved"]["workers"] == 2
    assert run["backend"]["used"] == "cpu" and run["backend"]["requested"] == "cpu"
    cl = run["cluster"]
    assert cl["kind"] == "LocalCluster"
    assert cl["startup_s"] > 0
    assert cl["processes"] == 2 and cl["threads_per_process"] == 1 and cl["total_threads"] == 2
    assert len(cl["workers"]) == 2
    assert run["corpus"]["files"] == 300 and run["corpus"]["staged"] is False
    assert run["staging"] is None
    assert run["batches"] == 6
    assert "cpu_model" in run["hardware"] and "numba" in run["packages"]

    reps = run["repeats"]
    assert [r["warmup"] for r in reps] == [True, False, False]
    for r in reps:
        assert r["files_ok"] + r["files_error"] == 300
        assert r["files_ok"] == 300
        assert r["wall_s"] > 0 and r["files_per_s"] > 0
        # the default per_thread layout: one drain task per worker thread (2), not one
        # per batch (6)
        assert r["tasks"] == 2 and r["failed_tasks"] == 0
        assert r["stop"] >= r["start"]
    s = run["summary"]
    assert s["repeats"] == 2
    assert s["files_per_s_median"] > 0
    assert s["files_per_s_min"] <= s["files_per_s_median"] <= s["files_per_s_max"]
    assert s["files_ok"] == 300 and s["files_error"] == 0
    assert run["errors_by_reason"] == {}
    assert run["lost_workers"] == []
    assert run["finished_at"] >= run["started_at"]

    manifest = pd.read_parquet(manifest_path)
    files = pd.read_parquet(out / "files.parquet")
    assert list(files.columns) == FILES_COLUMNS
    assert len(files) == 300
    assert files["path_raw"].tolist() == manifest["path_raw"].tolist()
    assert (files["status"] == "ok").all()
    v = val.validate(manifest, files, run)
    assert v["ok"] is True, v
    assert v["mismatches"] == 0 and v["repeats_accounted"] is True

    batches = pd.read_parquet(out / "batches.parquet")
    assert tuple(batches.columns) == BATCH_COLUMNS
    assert (batches[["gpu_chunks", "gpu_oversize_files", "gpu_oom_splits"]] == 0).all().all()
    assert len(batches) == 6 * 3  # one row per batch per repeat, warm-up included
    assert batches.groupby("repeat")["batch"].apply(sorted).tolist() == [list(range(6))] * 3
    assert batches["warmup"].tolist().count(True) == 6
    assert (batches.groupby("repeat")["files"].sum() == 300).all()
    assert (batches["errors"] == 0).all()
    assert (batches["device"] == "cpu").all()
    # per_thread: a drain task's key on each batch it read, one task per worker thread
    assert not batches.duplicated(["key", "batch"]).any()
    assert (batches.groupby("repeat")["key"].nunique() == 2).all()
    assert set(batches["worker"]) <= {w["address"] for w in cl["workers"]}
    assert batches["pid"].nunique() == 2 and os.getpid() not in set(batches["pid"])
    known_pids = {w.get("pid") for w in cl["workers"]} - {None}  # pid is optional (DATA.md)
    assert not known_pids or set(batches["pid"]) <= known_pids
    parts = batches[list(PARTS)].sum(axis=1)
    assert (batches[list(PARTS)] >= 0).all().all()
    assert (parts <= batches["stop"] - batches["start"] + 1e-6).all()
    timed = batches[~batches["warmup"]]
    assert timed.groupby("repeat")["bytes"].sum().tolist() == [int(manifest["bytes"].sum())] * 2

    res = pd.read_parquet(out / "resources.parquet")
    assert len(res) >= 1
    for col in ("t", "cpu_pct", "mem_used_bytes", "mem_available_bytes", "tree_rss_bytes"):
        assert col in res.columns, col
    assert res["cpu_pct"].between(0, 100).all()


@pytest.mark.slow
def test_run_phase_with_a_vanished_file(tmp_path, dask_corpus):
    data = tmp_path / "files"
    shutil.copytree(dask_corpus / "files", data)
    manifest_path = str(dask_corpus / "manifest.parquet")
    manifest = pd.read_parquet(manifest_path)
    gone = 123
    os.unlink(os.path.join(os.fsencode(data), manifest["path_raw"].iloc[gone]))
    settings = _settings("gone")
    settings["repeats"] = 1
    out = tmp_path / "out"
    run = process.run_phase(settings, manifest_path, str(data), None, out)
    assert run["status"] == "ok"
    for r in run["repeats"]:
        assert (r["files_ok"], r["files_error"]) == (299, 1)
    assert run["summary"]["files_ok"] == 299 and run["summary"]["files_error"] == 1
    assert run["errors_by_reason"] == {"vanished": 1}

    files = pd.read_parquet(out / "files.parquet")
    err = files[files["status"] == "error"]
    assert err.index.tolist() == [gone]
    assert err["error"].iloc[0].startswith("vanished")
    assert err[["bytes", "xxh3", "words"]].isna().all().all()
    assert (files.drop(index=gone)["status"] == "ok").all()
    assert files.drop(index=gone)["error"].isna().all()

    v = val.validate(manifest, files, json.loads((out / "run.json").read_text()))
    assert v["ok"] is True, v
    assert v["mismatches"] == 0
    assert v["files_error"] == 1 and v["errors_by_reason"] == {"vanished": 1}

    batches = pd.read_parquet(out / "batches.parquet")
    assert batches["errors"].sum() == 2  # one per repeat (warm-up + 1 timed)
