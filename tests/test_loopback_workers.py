"""Several workers that share nothing: a real `dask scheduler --scheduler-file` and two
`dask worker` processes on 127.0.0.1, each with its own local directory, used through the
phase's ``scheduler_file`` with ``worker_staging`` (each worker stages its own batches).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from filerate import config as cfg
from filerate import corpus
from filerate import validate as val
from filerate.engine import process
from filerate.errors import UserError

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _end(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process we started (workers first), SIGKILL after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def loopback_cluster(tmp_path):
    """(scheduler file, [worker local directories]) of a scheduler + 2 single-thread workers."""
    sched_file = tmp_path / "scheduler.json"
    logs = tmp_path / "logs"
    logs.mkdir()
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [
        _start(
            [str(BIN / "dask"), "scheduler", "--scheduler-file", str(sched_file), *common],
            logs / "scheduler.log",
        )
    ]
    dirs = []
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert procs[0].poll() is None, (logs / "scheduler.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "no scheduler file after 60 s"
            time.sleep(0.2)
        for k in range(2):
            local = tmp_path / f"node{k}"  # "node-local" storage of worker k
            local.mkdir()
            dirs.append(local)
            cmd = [str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file), *common]
            cmd += ["--nthreads", "1", "--nworkers", "1", "--name", f"w{k}"]
            cmd += ["--local-directory", str(local)]
            procs.append(_start(cmd, logs / f"worker{k}.log"))
        yield sched_file, dirs
    finally:
        _end(procs[::-1])
    assert all(p.poll() is not None for p in procs)


def _settings(sched_file: Path, **extra):
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 400}},
            "phases": {
                "p": {
                    "corpus": "c",
                    "scheduler_file": str(sched_file),
                    "workers": 2,
                    "batch_size": 50,
                    "repeats": 2,
                    "warmup": 1,
                    "staging": False,
                    "worker_staging": True,
                    "timeout_s": 120,
                    **extra,
                }
            },
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)["p"]


def test_worker_staging_needs_staging_false():
    with pytest.raises(cfg.ConfigError, match="worker_staging = true needs staging: false"):
        cfg.validate(
            {
                "corpora": {"c": {"files": 1}},
                "phases": {"p": {"corpus": "c", "worker_staging": True}},
            }
        )


def test_two_loopback_workers_stage_and_read_their_own_batches(loopback_cluster, tmp_path):
    sched_file, dirs = loopback_cluster
    data = tmp_path / "corpus"
    corpus.generate("c", {"files": 400, "seed": 47, "files_per_dir": 40}, data, processes=1)
    from distributed import Client

    with Client(scheduler_file=str(sched_file), timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
    out = tmp_path / "out"
    manifest_path = str(data / "manifest.parquet")
    run = process.run_phase(_settings(sched_file), manifest_path, str(data / "files"), None, out)

    assert run["status"] == "ok" and run["backend"]["used"] == "external"
    st = run["staging"]
    assert st["mode"] == "per_worker" and st["files"] == 400 and st["failed_count"] == 0
    assert run["corpus"]["staged"] is True
    owners = {}
    for w, local in zip(sorted(st["workers"], key=lambda w: w["dir"]), dirs, strict=True):
        assert w["dir"].startswith(str(local) + "/")  # inside that worker's own directory
        assert w["files"] == 200 and w["batches"] == 4
        owners[w["worker"]] = w
        assert not Path(w["dir"]).exists()  # removed after the phase
    # every timed batch ran on the worker that staged its files
    batches = pd.read_parquet(out / "batches.parquet")
    for worker, group in batches.groupby("worker"):
        assert worker in owners
        assert sorted(set(group["batch"])) == (
            [0, 1, 2, 3] if group["batch"].min() == 0 else [4, 5, 6, 7]
        )
    for rep in run["repeats"]:
        pw = rep["per_worker"]
        assert [w["files"] for w in pw["workers"]] == [200, 200]
        assert pw["files"] == 400 and pw["files_per_s"] > 0
        assert 0 < pw["stonewall_s"] <= pw["last_done_s"]
        for w in pw["workers"]:
            assert 0 < w["first_done_s"] <= w["last_done_s"] <= pw["last_done_s"]
    manifest = pd.read_parquet(manifest_path)
    v = val.validate(manifest, pd.read_parquet(out / "files.parquet"), run)
    assert v["ok"] is True and v["mismatches"] == 0, v
    assert json.loads((out / "run.json").read_text())["staging"]["mode"] == "per_worker"


def test_a_worker_that_cannot_stage_stops_the_phase_with_one_line(loopback_cluster, tmp_path):
    sched_file, _ = loopback_cluster
    data = tmp_path / "corpus"
    corpus.generate("c", {"files": 100, "seed": 48}, data, processes=1)
    not_a_dir = tmp_path / "not-a-dir"
    not_a_dir.write_text("")
    settings = _settings(sched_file, worker_staging_root=str(not_a_dir))
    out = tmp_path / "out"
    with pytest.raises(UserError, match="could not stage its batches: NotADirectoryError"):
        process.run_phase(settings, str(data / "manifest.parquet"), str(data / "files"), None, out)
    assert not (out / "run.json").exists()
