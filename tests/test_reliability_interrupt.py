"""Interrupted runs (docs/RELIABILITY.md): real processes killed, real Snakemake interrupted.

Outputs are written atomically and run.json last, so a killed `filerate process` leaves no
complete-looking phase; a rerun starts by removing an earlier run's outputs and stray
temporary files. Under Snakemake, Ctrl-C or a killed job leaves no staged copy on the RAM
disk, and the rerun resumes: finished phases are not redone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import psutil
import pytest

from filerate import atomic, corpus
from filerate import config as cfg
from filerate.errors import UserError
from filerate.reports import load

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLEEP = json.dumps({"action": "sleep", "seconds": 120})


def _env(**extra):
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}


def _workers_of(pid: int) -> list[psutil.Process]:
    """The Dask worker processes (multiprocessing spawn children) under ``pid``."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in kids:
        try:
            if "spawn_main" in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _all_gone(procs: list[psutil.Process], timeout: float) -> bool:
    _gone, alive = psutil.wait_procs(procs, timeout=timeout)
    return not alive


# ------------------------------------------------------------ atomic outputs


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    atomic.write_json(target, {"phase": "old", "status": "ok"})
    with pytest.raises(TypeError):
        atomic.write_json(target, {"phase": "new", "bad": object()})  # fails mid-way
    frame = pd.DataFrame({"a": [1, 2]})
    atomic.write_parquet(tmp_path / "files.parquet", frame)
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's type for an unwritable column)
        atomic.write_parquet(tmp_path / "files.parquet", pd.DataFrame({"a": [object()]}))
    assert json.loads(target.read_text()) == {"phase": "old", "status": "ok"}
    assert pd.read_parquet(tmp_path / "files.parquet").equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["files.parquet", "run.json"]


def test_garbage_outputs_are_never_taken_as_a_finished_phase(tmp_path):
    """A truncated run.json or parquet (written by something else, or a disk error) is a
    one-line error naming the file and the step to rerun, not a result."""
    phase = tmp_path / "p"
    phase.mkdir()
    (phase / "run.json").write_text('{"phase": "p", "status": "o')
    with pytest.raises(UserError) as info:
        load.load_phase(phase)
    assert "not valid JSON" in str(info.value) and "\n" not in str(info.value)
    atomic.write_json(phase / "run.json", {"phase": "p", "status": "ok"})
    (phase / "batches.parquet").write_bytes(b"PAR1 half a parquet file")
    with pytest.raises(UserError) as info:
        load.load_phase(phase)
    assert "batches.parquet" in str(info.value) and "rerun" in str(info.value)


# ------------------------------------------------------------ filerate process, killed


@pytest.fixture(scope="module")
def kill_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("kill-corpus")
    corpus.generate("kc", {"files": 200, "seed": 81}, out, processes=1)
    return out


def _phase_settings():
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 200}},
            "phases": {
                "k": {
                    "corpus": "c",
                    "backend": "cpu",
                    "workers": 2,
                    "batch_size": 50,
                    "staging": False,
                    "warmup": 0,
                    "repeats": 3,
                    "min_repeat_s": 0,
                }
            },
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)["k"]


def _start_process(kill_corpus, out: Path, log: Path) -> subprocess.Popen:
    cmd = [
        str(BIN / "filerate"),
        "process",
        "--settings",
        json.dumps(_phase_settings()),
        "--manifest",
        str(kill_corpus / "manifest.parquet"),
        "--data-dir",
        str(kill_corpus / "files"),
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env=_env(FILERATE_TEST_FAULT=SLEEP),
        start_new_session=True,
    )
    # mid-run: both workers up, every batch sleeping in them
    _wait_for(lambda: len(_workers_of(proc.pid)) == 2, 60, "two Dask workers")
    _wait_for(lambda: "injecting" in log.read_text(), 10, "the phase to start")
    time.sleep(2.0)
    assert proc.poll() is None, log.read_text()
    return proc


def _plant_an_earlier_run(out: Path) -> None:
    """Outputs of an earlier, finished run, and the temporaries a killed write leaves."""
    out.mkdir(parents=True)
    atomic.write_json(out / "run.json", {"phase": "k", "status": "ok", "repeats": []})
    atomic.write_parquet(out / "files.parquet", pd.DataFrame({"path": ["old"]}))
    atomic.write_json(out / "validation.json", {"phase": "k", "ok": True})
    (out / ".run.json.k2j3h4.tmp").write_text('{"phase": "k", "sta')
    (out / ".files.parquet.x8y9z0.tmp").write_bytes(b"PAR1 half")


@pytest.mark.slow
def test_killed_process_leaves_no_finished_looking_phase(kill_corpus, tmp_path):
    """SIGKILL (the OOM killer, a node failure) in the middle of a phase: no run.json, no
    outputs from the earlier run beside nothing, no temporaries; the next step says the
    phase must be run; the orphaned Dask workers exit on their own."""
    out = tmp_path / "phase"
    _plant_an_earlier_run(out)
    proc = _start_process(kill_corpus, out, tmp_path / "log")
    workers = _workers_of(proc.pid)
    proc.kill()
    assert proc.wait(10) == -signal.SIGKILL
    assert list(out.iterdir()) == []  # the earlier run's outputs went before the start
    assert _all_gone(workers, timeout=30), [w.pid for w in workers if w.is_running()]
    with pytest.raises(UserError, match="run.json is missing"):
        load.load_phase(out)
    res = _validate_cli([str(BIN / "filerate")], kill_corpus, out)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "run.json is missing" in res.stderr
    assert not (out / "validation.json").exists()


def _validate_cli(command: list[str], kill_corpus: Path, phase: Path):
    return subprocess.run(
        [*command, "validate", "--manifest", str(kill_corpus / "manifest.parquet")]
        + ["--phase-dir", str(phase), "--out", str(phase / "validation.json")],
        capture_output=True,
        text=True,
        env=_env(),
    )


def test_one_line_errors_also_through_python_m(kill_corpus, tmp_path):
    res = _validate_cli([sys.executable, "-m", "filerate"], kill_corpus, tmp_path)
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr


@pytest.mark.slow
def test_terminated_process_shuts_its_cluster_down(kill_corpus, tmp_path):
    """SIGTERM (Snakemake or a batch system stopping the job) unwinds like Ctrl-C: the
    cluster is closed, the command says it was interrupted, no run.json is written."""
    out = tmp_path / "phase"
    log = tmp_path / "log"
    proc = _start_process(kill_corpus, out, log)
    workers = _workers_of(proc.pid)
    t0 = time.monotonic()
    proc.terminate()
    assert proc.wait(60) == 130, log.read_text()
    assert time.monotonic() - t0 < 30
    assert log.read_text().rstrip().endswith("filerate process: interrupted")
    assert _all_gone(workers, timeout=10)
    assert not (out / "run.json").exists()


# ------------------------------------------------------------ the workflow, interrupted

TINY = """
ramdisk: {{root: {ramdisk}, min_free_memory_gb: 0.1}}
corpora:
  a: {{files: 200, seed: 5}}
phases:
  first:  {{corpus: a, backend: cpu, workers: 2, batch_size: 50, analysis: light,
            repeats: 1, min_repeat_s: 0, warmup: 0, target_files_per_s: 1000}}
  second: {{corpus: a, backend: cpu, workers: 2, batch_size: 50, analysis: minimal,
            repeats: 1, min_repeat_s: 0, warmup: 0, target_files_per_s: 1000}}
"""


@pytest.fixture
def workdir(tmp_path):
    work = tmp_path / "wf"
    work.mkdir()
    shutil.copy(ROOT / "Snakefile", work / "Snakefile")
    shutil.copytree(ROOT / "workflow", work / "workflow")
    shutil.copytree(ROOT / "envs", work / "envs")
    (work / "config").mkdir()
    ramdisk = Path("/dev/shm") / f"filerate-test-{uuid.uuid4().hex[:8]}"
    (work / "config" / "config.yaml").write_text(TINY.format(ramdisk=ramdisk))
    try:
        yield work, ramdisk
    finally:
        shutil.rmtree(ramdisk, ignore_errors=True)


def _snakemake(work: Path, *args: str, **popen) -> subprocess.Popen:
    # --rerun-incomplete: Snakemake marks the outputs of the jobs it interrupted as
    # incomplete and refuses to start without it (workflow/profiles/default sets it)
    cmd = [str(BIN / "snakemake"), "--cores", "2", "--rerun-incomplete"]
    cmd += ["--directory", str(work), "--snakefile", str(work / "Snakefile"), *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _staged(ramdisk: Path) -> list[Path]:
    """Staged phase copies (and partial ones) left on the RAM disk."""
    return [p for p in ramdisk.glob("filerate-*/*/*")] if ramdisk.exists() else []


def _process_job(snake: subprocess.Popen, work: Path, phase: str) -> psutil.Process:
    """Wait until `filerate process` for ``phase`` runs its batches; return it."""
    log = work / "logs" / "process" / f"{phase}.log"

    def running():
        if not log.exists() or "injecting" not in log.read_text():
            return None
        for p in psutil.Process(snake.pid).children(recursive=True):
            try:
                args = p.cmdline()
                python = p.name().startswith("python")
            except psutil.Error:
                continue
            filerate = "filerate" in args or any(a.endswith("/filerate") for a in args)
            if python and filerate and "process" in args and len(_workers_of(p.pid)) == 2:
                return p
        return None

    job = _wait_for(running, 120, f"the process job of phase {phase}")
    time.sleep(2.0)  # workers warm, batches sleeping in them
    assert snake.poll() is None
    return job


@pytest.mark.slow
def test_interrupted_workflow_cleans_up_and_resumes(workdir):
    """Ctrl-C in the middle of a phase, then a killed phase job: each time the RAM disk is
    left clean, the phase has no outputs, and the worker processes are gone. After a
    kill -9 of snakemake and its job, the next run cleans up. The rerun finishes without
    redoing the phase that had finished."""
    work, ramdisk = workdir
    first_run = work / "results" / "phases" / "first" / "run.json"
    second_run = work / "results" / "phases" / "second" / "run.json"

    rc, out = _finish(_snakemake(work, "results/phases/first/run.json", env=_env()))
    assert rc == 0, out[-3000:]
    assert _staged(ramdisk) == []  # temp() output: removed once the phase had run
    finished_at = first_run.stat().st_mtime_ns

    # 1. Ctrl-C in a terminal: SIGINT to the whole foreground process group
    snake = _snakemake(
        work,
        env=_env(FILERATE_TEST_FAULT=SLEEP.replace("}", ', "phase": "second"}')),
        start_new_session=True,
    )
    job = _process_job(snake, work, "second")
    assert [p.name for p in _staged(ramdisk)] == ["second"]
    workers = _workers_of(job.pid)
    os.killpg(snake.pid, signal.SIGINT)
    rc, out = _finish(snake, 120)
    assert rc != 0
    assert _staged(ramdisk) == [], out[-3000:]
    assert not second_run.exists()
    assert _all_gone([job, *workers], timeout=30)
    assert first_run.stat().st_mtime_ns == finished_at

    # 2. the phase job is killed (OOM killer): the workflow fails and cleans up
    snake = _snakemake(
        work, env=_env(FILERATE_TEST_FAULT=SLEEP.replace("}", ', "phase": "second"}'))
    )
    job = _process_job(snake, work, "second")
    workers = _workers_of(job.pid)
    job.kill()
    rc, out = _finish(snake, 120)
    assert rc != 0 and "Error in rule process" in out, out[-3000:]
    assert _staged(ramdisk) == []
    assert not second_run.exists()
    assert _all_gone(workers, timeout=30)

    # 3. snakemake and its job killed with SIGKILL (`kill -9`, the OOM killer): no handler
    # runs, so the staged copy stays behind, and Snakemake's lock too (`--unlock` lifts
    # it); the Dask workers and multiprocessing's resource tracker clean up after
    # themselves. (Killing the resource tracker as well would leak its semaphores in
    # /dev/shm: not done here.)
    snake = _snakemake(
        work, env=_env(FILERATE_TEST_FAULT=SLEEP.replace("}", ', "phase": "second"}'))
    )
    job = _process_job(snake, work, "second")
    workers = _workers_of(job.pid)
    for p in (psutil.Process(snake.pid), job.parent(), job):  # snakemake, its shell, the job
        p.kill()
    _finish(snake, 60)
    assert [p.name for p in _staged(ramdisk)] == ["second"]
    assert _all_gone(workers, timeout=30)
    rc, out = _finish(_snakemake(work, "--unlock", env=_env()))
    assert rc == 0, out[-3000:]

    # 4. rerun: only what is missing runs; the leftover staged copy is replaced (never
    # trusted) and the RAM disk is clean afterwards
    rc, out = _finish(_snakemake(work, env=_env()))
    assert rc == 0, out[-3000:]
    assert first_run.stat().st_mtime_ns == finished_at  # not redone
    for phase in ("first", "second"):
        validation = json.loads(
            (work / "results" / "phases" / phase / "validation.json").read_text()
        )
        assert validation["ok"] and validation["manifest_files"] == 200
    assert json.loads(second_run.read_text())["test_fault"] is None
    assert _staged(ramdisk) == []
    rc, out = _finish(_snakemake(work, "-n", env=_env()))
    assert rc == 0 and "Nothing to be done" in out, out[-3000:]
