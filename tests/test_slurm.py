"""On a real (local, one-node) Slurm cluster: the cluster itself, the workflow through the
Slurm executor with profiles/slurm, and `backend: slurm` (Dask workers as Slurm jobs).

The cluster comes from tools/slurm/localslurm.py (fixture ``local_slurm``); where it
cannot run these tests skip with the reason. Kept few and tiny: every Slurm job starts a
Python (and the executor's jobs a whole Snakemake) on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from filerate import config as cfg
from filerate import corpus
from filerate import validate as val
from filerate.engine import process
from slurm_cluster import local_slurm  # noqa: F401 (the session fixture)

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# the first test also pays for installing and starting the cluster (apt: about 1.5 min)
pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(900)]

TINY = """
ramdisk: {{root: {ramdisk}, min_free_memory_gb: 0.1}}
corpora:
  a: {{files: 300, seed: 5}}
phases:
  first:  {{corpus: a, backend: cpu, workers: 2, batch_size: 100, analysis: light, repeats: 2}}
"""


def _slurm(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_local_cluster_runs_and_accounts_for_a_job(local_slurm):  # noqa: F811
    assert _slurm("sinfo", "-h", "-o", "%P %T").split() == [f"{local_slurm['partition']}*", "idle"]
    job = _slurm("sbatch", "--parsable", "--wait", "-o", "/dev/null", "--wrap", "true").strip()
    # with accounting (slurmdbd) sacct knows the finished job
    state = _slurm("sacct", "-X", "-n", "-P", "-o", "State", "-j", job).strip()
    assert state == "COMPLETED"


def _workdir(tmp: Path) -> tuple[Path, Path]:
    work = tmp / "wf"
    work.mkdir()
    shutil.copy(ROOT / "Snakefile", work / "Snakefile")
    shutil.copytree(ROOT / "workflow", work / "workflow")  # follows the schema link
    shutil.copytree(ROOT / "envs", work / "envs")
    shutil.copytree(ROOT / "profiles", work / "profiles")
    (work / "config").mkdir()
    ramdisk = Path("/dev/shm") / f"filerate-slurm-test-{uuid.uuid4().hex[:8]}"
    (work / "config" / "config.yaml").write_text(TINY.format(ramdisk=ramdisk))
    return work, ramdisk


def test_workflow_runs_through_the_slurm_executor(local_slurm, tmp_path):  # noqa: F811
    """profiles/slurm as it is, on the local cluster; only the first status check comes
    sooner (3 s, not 40 s) to keep the test short."""
    work, ramdisk = _workdir(tmp_path)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    cmd = [
        str(BIN / "snakemake"),
        "--workflow-profile",
        "profiles/slurm",
        "--slurm-init-seconds-before-status-checks",
        "3",
    ]
    try:
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env, timeout=400)
    finally:
        shutil.rmtree(ramdisk, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    res = work / "results"
    assert json.loads((res / "phases" / "first" / "validation.json").read_text())["ok"]
    run = json.loads((res / "phases" / "first" / "run.json").read_text())
    alloc = run["slurm"]  # the job the timed step ran in
    assert alloc and alloc["job_id"] and alloc["slurmd_nodename"]
    assert alloc["exclusive"] is True  # it owned its node
    assert alloc["cpus_per_task"] == "2"  # the profile's `cores`
    assert int(alloc["cpus_on_node"]) == os.cpu_count()  # --exclusive: all of them
    state = _slurm("sacct", "-X", "-n", "-P", "-o", "State", "-j", alloc["job_id"])
    assert state.split() == ["COMPLETED"]
    assert (res / "report" / "index.html").exists()
    # the stage ran in the same job (group "phase") and its RAM-disk copy is gone
    staging = json.loads((res / "staging" / "first.json").read_text())
    assert staging["staged"] and not Path(staging["staged_dir"]).exists()


def _slurm_settings(logs: Path, name="p"):
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 300}},
            "phases": {
                name: {
                    "corpus": "c",
                    "backend": "slurm",
                    "workers": 2,
                    "batch_size": 50,
                    "repeats": 2,
                    "min_repeat_s": 0,  # one pass per repeat: 300 files each
                    "warmup": 1,
                    "staging": False,
                    "timeout_s": 240,
                    "slurm": {
                        "jobs": 2,
                        "memory": "1GB",
                        "walltime": "00:10:00",
                        "queue_timeout_s": 120,
                        "log_directory": str(logs),
                    },
                }
            },
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)[name]


def test_backend_slurm_runs_dask_workers_as_slurm_jobs(local_slurm, tmp_path):  # noqa: F811
    data = tmp_path / "corpus"
    corpus.generate("c", {"files": 300, "seed": 43, "files_per_dir": 60}, data, processes=1)
    settings = _slurm_settings(tmp_path / "logs")
    out = tmp_path / "out"
    manifest_path = str(data / "manifest.parquet")
    run = process.run_phase(settings, manifest_path, str(data / "files"), None, out)
    assert run["status"] == "ok" and run["backend"]["used"] == "slurm"
    cl = run["cluster"]
    assert cl["kind"] == "SLURMCluster" and cl["processes"] == 2 and cl["total_threads"] == 2
    shape = cl["slurm"]["shape"]
    assert shape == {
        "jobs": 2,
        "processes_per_job": 1,
        "threads_per_job": 1,
        "cpus_per_job": 1,
        "workers": 2,
    }
    job_ids = {j["job_id"] for j in cl["slurm"]["jobs"].values()}
    assert len(job_ids) == 2 and all(job_ids)
    assert "#SBATCH -t 00:10:00" in cl["slurm"]["job_script"]
    job_logs = sorted(p.suffix for p in (tmp_path / "logs").iterdir())
    assert job_logs == [".err", ".err", ".out", ".out"]  # in slurm.log_directory
    timed = [r for r in run["repeats"] if not r["warmup"]]
    assert all(r["files_ok"] == 300 for r in timed)
    assert all(len(r["per_worker"]["workers"]) >= 1 for r in timed)
    manifest = pd.read_parquet(data / "manifest.parquet")
    files = pd.read_parquet(out / "files.parquet")
    v = val.validate(manifest, files, run)
    assert v["ok"] is True and v["mismatches"] == 0, v
    # the worker jobs end with the phase (cancelled when the cluster closes)
    deadline = time.monotonic() + 30
    while left := _slurm("squeue", "-h", "-j", ",".join(job_ids), "-t", "PD,R,CG", "-o", "%i"):
        assert time.monotonic() < deadline, f"worker jobs still in the queue: {left}"
        time.sleep(1)
