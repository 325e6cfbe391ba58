"""Reliability under faults (docs/RELIABILITY.md): real Dask clusters, real worker deaths.

Faults are injected with the tiny hook in filerate.engine.tasks.inject_fault (inert unless a
phase's settings or $FILERATE_TEST_FAULT name one): a worker process that dies in the
middle of a batch, a batch that always kills its worker or always raises, a batch that
hangs past the phase's timeout. Whatever happens, every manifest file ends each repeat as
ok or as an error with a reason, and run.json says what went wrong.

The phases use the default task layout, per_thread (one drain task per worker thread,
engine.worklist and engine.perthread); the poison-batch test also runs per_batch. Where a
number differs between the layouts the test says why.
"""

from __future__ import annotations

import json
import os
import signal
import time

import dask
import distributed  # noqa: F401  (loads its config defaults before any dask.config.set here)
import pandas as pd
import psutil
import pytest

from filerate import cli, corpus
from filerate import config as cfg
from filerate import validate as val
from filerate.engine import process

pytestmark = pytest.mark.slow

N, BATCH = 300, 50  # six batches over two single-threaded worker processes


@pytest.fixture(scope="module")
def fault_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("fault-corpus")
    corpus.generate("fc", {"files": N, "seed": 71, "files_per_dir": 60}, out, processes=1)
    return out


def _settings(name="faulty", **overrides):
    phase = {
        "corpus": "c",
        "backend": "cpu",
        "workers": 2,
        "batch_size": BATCH,
        "repeats": 1,
        "min_repeat_s": 0,  # one pass per repeat: a fault hits a known pass
        "warmup": 1,
        "staging": False,
        "timeout_s": 120,
        "analysis": "light",
    }
    phase.update(overrides)
    conf = cfg.validate({"corpora": {"c": {"files": N}}, "phases": {name: phase}}, cpu_count=2)
    return cfg.phases(conf, cpu_count=2)[name]


def _run(fault_corpus, out, settings, fault):
    settings = {**settings, "_test_fault": fault}
    manifest_path = str(fault_corpus / "manifest.parquet")
    result = process.run_phase(settings, manifest_path, str(fault_corpus / "files"), None, out)
    manifest = pd.read_parquet(manifest_path)
    files = pd.read_parquet(out / "files.parquet")
    run = json.loads((out / "run.json").read_text())
    return result, run, manifest, files


def _spawned_workers() -> list[psutil.Process]:
    """Dask worker processes (multiprocessing spawn children) still alive under this test."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def _no_workers_left(timeout=10.0):
    deadline = time.monotonic() + timeout
    while _spawned_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    return _spawned_workers() == []


def test_worker_killed_mid_phase_is_retried_elsewhere(fault_corpus, tmp_path):
    """A worker process dies in the middle of a batch (once), and another batch raises
    once: both are run again (the dead worker's drain task by Dask on another worker, the
    raising batch in place by its drain task), the phase completes with every file ok,
    and run.json names the lost worker and counts the retries."""
    out = tmp_path / "out"
    fault = [
        {"action": "exit", "start": 100, "once": str(tmp_path / "killed")},
        {"action": "raise", "start": 200, "once": str(tmp_path / "raised")},
    ]
    result, run, manifest, files = _run(fault_corpus, out, _settings(), fault)
    assert (tmp_path / "killed").exists() and (tmp_path / "raised").exists()
    assert run["status"] == "ok"
    assert run["test_fault"] == fault  # a run with an injected fault says so
    assert (files["status"] == "ok").all()
    for r in run["repeats"]:
        assert r["files_ok"] == N and r["files_error"] == 0 and r["failed_tasks"] == 0
    # the warm-up repeat (0) is where both faults fired
    first = run["repeats"][0]
    assert len(first["lost_workers"]) == 1
    assert first["lost_workers"][0]["worker"] in {w["address"] for w in run["cluster"]["workers"]}
    assert first["lost_workers"][0]["tasks_processing"] >= 1
    # the nanny starts a replacement; it may join after the phase is over
    assert sum(len(r["joined_workers"]) for r in run["repeats"]) <= 1
    # one drain task per single-threaded worker; the killed one ran again (its group's
    # batches 0-2 read again elsewhere), batch 4 ran twice in place: 1 + 1 retries
    assert first["tasks"] == 2
    assert first["retries"] >= 2 and first["retried_tasks"] >= 2
    assert {2, 4} <= set(first["retried_batches"])
    assert run["lost_workers"] == [{"repeat": 0, **first["lost_workers"][0]}]
    assert run["summary"]["retries"] >= 2
    assert run["summary"]["failed_tasks"] == 0
    assert run["cluster"]["allowed_failures"] == 2  # task_retries' default
    batches = pd.read_parquet(out / "batches.parquet")
    assert len(batches) == 2 * 6  # every batch of every repeat returned once
    warm = batches[batches["repeat"] == 0].set_index("batch")
    assert warm.loc[2, "attempts"] >= 2 and warm.loc[4, "attempts"] >= 2
    assert (batches[batches["repeat"] == 1]["attempts"] == 1).all()
    v = val.validate(manifest, files, run)
    assert v["ok"] and v["repeats_accounted"] and v["files_ok"] == N, v


@pytest.mark.parametrize("layout", ["per_thread", "per_batch"])
def test_batch_that_keeps_failing_is_recorded_not_hung(fault_corpus, tmp_path, layout):
    """One batch always kills its worker, another always raises: after task_retries more
    attempts each, their files are errors with the reason, every other batch is ok, the
    phase finishes and validates (errors are accounted for, not lost). With per-thread
    tasks the poison batch's group falls back to per-batch tasks, so it fails alone."""
    out = tmp_path / "out"
    fault = [{"action": "exit", "start": 100}, {"action": "raise", "start": 200}]
    # one task per single-threaded worker at a time (Dask's default queues a second one
    # there, which would share the dying worker's fate: see docs/RELIABILITY.md)
    t0 = time.monotonic()
    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        result, run, manifest, files = _run(
            fault_corpus, out, _settings(task_retries=1, warmup=0, task_layout=layout), fault
        )
    assert time.monotonic() - t0 < 90
    assert run["status"] == "ok"
    assert run["cluster"]["allowed_failures"] == 1
    (rep,) = run["repeats"]
    assert rep["files_ok"] == N - 2 * BATCH and rep["files_error"] == 2 * BATCH
    # per_batch: the two batches' tasks. per_thread: the poison batch's group's drain task
    # (KilledWorker) and then its own per-batch task; the raising batch failed in place,
    # inside its drain task, so it is only in failed_batches
    assert rep["failed_tasks"] == 2 and rep["failed_batches"] == [2, 4]
    # task_retries=1: two starts, two deaths. per_thread: the poison batch kills its
    # group's drain task twice, then its own per-batch task twice
    assert len(rep["lost_workers"]) == (4 if layout == "per_thread" else 2)
    assert rep["retries"] >= 2
    killed = files.iloc[100:150]
    raised = files.iloc[200:250]
    assert killed["error"].str.startswith("batch failed: KilledWorker: ").all()
    assert (
        raised["error"]
        .eq("batch failed: RuntimeError: injected fault in the batch starting at row 200")
        .all()
    )
    assert (killed["status"] == "error").all() and (raised["status"] == "error").all()
    rest = files.drop(index=list(range(100, 150)) + list(range(200, 250)))
    assert (rest["status"] == "ok").all() and rest["error"].isna().all()
    assert run["errors_by_reason"] == {"batch failed": 2 * BATCH}
    v = val.validate(manifest, files, run)
    assert v["ok"] and v["mismatches"] == 0 and v["files_error"] == 2 * BATCH, v
    assert v["errors_by_reason"] == {"batch failed": 2 * BATCH}


def test_timeout_records_unfinished_files_and_exits_nonzero(fault_corpus, tmp_path, capsys):
    """A batch hangs: at timeout_s the phase stops, run.json says status timeout, the
    unfinished files are errors 'timeout: ...', the command exits 1 with one clear line,
    and the cluster (the hung worker included) is shut down."""
    out = tmp_path / "out"
    settings = _settings(timeout_s=6, warmup=0, repeats=2)
    settings["_test_fault"] = {"action": "sleep", "seconds": 120, "start": 150}
    before = signal.getsignal(signal.SIGTERM)
    rc = cli.main(
        [
            "process",
            "--settings",
            json.dumps(settings),
            "--manifest",
            str(fault_corpus / "manifest.parquet"),
            "--data-dir",
            str(fault_corpus / "files"),
            "--out",
            str(out),
        ]
    )
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    err = capsys.readouterr().err
    assert rc == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("filerate process: error:")]
    assert len(lines) == 1, err
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "timeout"
    # per_thread: the hung batch (150-199) is the first its worker's drain task claims, and
    # that single-threaded worker's task holds its group's other two batches too (no other
    # task drains that group), so none of the three comes back (with per_batch tasks: the
    # hung batch, and any batch Dask had already queued behind it on that worker)
    late = run["timed_out_files"]
    assert late == 3 * BATCH, late
    assert "timeout_s=6" in lines[0] and f"{late} unfinished files" in lines[0]
    assert "raise timeout_s" in lines[0]
    (rep,) = run["repeats"]  # the second repeat never started
    assert rep["timed_out"] is True and rep["files_ok"] == N - late
    assert rep["files_ok"] + rep["files_error"] == N
    assert run["cluster"]["shutdown_s"] < 60
    files = pd.read_parquet(out / "files.parquet")
    hung = files.iloc[150:200]
    assert hung["error"].str.startswith("timeout: phase passed timeout_s=6").all()
    errors = files[files["status"] == "error"]
    assert len(errors) == late and errors["error"].str.startswith("timeout: ").all()
    assert files.loc[files["status"] == "ok", "error"].isna().all()
    assert run["errors_by_reason"] == {"timeout": late}
    manifest = pd.read_parquet(fault_corpus / "manifest.parquet")
    v = val.validate(manifest, files, run)
    assert v["repeats_accounted"] and v["missing"] == 0 and v["mismatches"] == 0
    assert _no_workers_left(), [p.cmdline() for p in _spawned_workers()]


def test_fault_hook_is_inert_unless_set(fault_corpus, monkeypatch):
    """No fault unless asked: the spec carries none, and the environment variable is the
    only other way in (used by the workflow tests, recorded in run.json)."""
    monkeypatch.delenv(process.TEST_FAULT_ENV, raising=False)
    assert process.injected_fault(_settings()) is None
    monkeypatch.setenv(process.TEST_FAULT_ENV, '{"action": "sleep", "seconds": 0}')
    assert process.injected_fault(_settings()) == {"action": "sleep", "seconds": 0}
    assert "_test_fault" not in cfg.schema()["definitions"]["phase"]["properties"]
    # the config schema rejects it: a user cannot set it by accident
    with pytest.raises(cfg.ConfigError):
        cfg.validate(
            {
                "corpora": {"c": {"files": 1}},
                "phases": {"p": {"corpus": "c", "_test_fault": {"action": "raise"}}},
            }
        )
    assert os.environ[process.TEST_FAULT_ENV]
