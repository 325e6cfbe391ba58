"""Slurm: Dask workers as Slurm jobs (``backend: slurm``), and what a Slurm job that runs
a phase records about its own allocation.

``backend: slurm`` starts a dask-jobqueue ``SLURMCluster`` from the process step: the
scheduler runs in this process, each of ``slurm.jobs`` batch jobs runs
``slurm.processes_per_job`` worker processes with ``threads_per_job`` threads in all, and
the phase waits (up to ``slurm.queue_timeout_s``) until every worker has joined, so the
timed repeats always see the whole cluster. Workers must reach the scheduler's address
(``slurm.interface`` picks the network) and import filerate at the same path (a shared
file system, as on any cluster where a login node and compute nodes see one $HOME).
"""

from __future__ import annotations

import math
import os
import subprocess
import time

from filerate.errors import UserError

#: the environment a Slurm job step sees, kept in run.json (what the allocation was)
ENV_KEYS = (
    "SLURM_JOB_ID",
    "SLURM_JOB_NAME",
    "SLURM_JOB_PARTITION",
    "SLURM_JOB_ACCOUNT",
    "SLURM_CLUSTER_NAME",
    "SLURM_JOB_NODELIST",
    "SLURM_JOB_NUM_NODES",
    "SLURMD_NODENAME",
    "SLURM_CPUS_ON_NODE",
    "SLURM_JOB_CPUS_PER_NODE",
    "SLURM_CPUS_PER_TASK",
    "SLURM_MEM_PER_NODE",
    "SLURM_MEM_PER_CPU",
    "SLURM_GPUS_ON_NODE",
    "SLURM_JOB_GPUS",
    "SLURM_STEP_ID",
)
#: fields of `scontrol show job` that say what the job was given
SCONTROL_KEYS = (
    "JobState",
    "Partition",
    "Account",
    "NodeList",
    "NumNodes",
    "NumCPUs",
    "OverSubscribe",
    "TRES",
    "TimeLimit",
    "StartTime",
)


def allocation(env: dict | None = None) -> dict | None:
    """The Slurm job this process runs in (None outside Slurm): its id, node and
    allocation from the environment, plus `scontrol show job` where that answers."""
    env = os.environ if env is None else env
    if not env.get("SLURM_JOB_ID"):
        return None
    record = {k.removeprefix("SLURM_").lower(): env[k] for k in ENV_KEYS if k in env}
    record["exclusive"] = None
    job = scontrol_job(env["SLURM_JOB_ID"])
    if job:
        record["scontrol"] = {k: job[k] for k in SCONTROL_KEYS if k in job}
        # OverSubscribe=NO: no other job may share the node (sbatch --exclusive)
        record["exclusive"] = job.get("OverSubscribe") == "NO"
    return record


def scontrol_job(job_id: str) -> dict | None:
    """`scontrol show job -o ID` as a dict; None when it cannot tell (it blocks while
    slurmctld is down, hence the timeout)."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "job", "-o", str(job_id)],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return dict(p.split("=", 1) for p in out.stdout.split() if "=" in p)


def job_shape(settings: dict) -> dict:
    """Jobs x processes x threads the phase asks Slurm for, from `slurm:` and the plan."""
    conf = settings.get("slurm") or {}
    jobs = conf.get("jobs", 1)
    threads = conf.get("threads_per_job") or max(
        1, math.ceil(settings["resolved"]["workers"] / jobs)
    )
    processes = min(conf.get("processes_per_job", 1), threads)
    return {
        "jobs": jobs,
        "processes_per_job": processes,
        "threads_per_job": threads,
        "cpus_per_job": conf.get("cpus_per_job") or threads,
        "workers": jobs * processes,
    }


def start_cluster(settings: dict, scheduler_kwargs: dict, security=None):
    """Submit the worker jobs and wait for all of them; returns (cluster, client, record).
    ``security`` (a distributed Security, or None when TLS is opted out) protects the
    scheduler the jobs connect to; its files must be on a file system the jobs see."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    conf = settings.get("slurm") or {}
    shape = job_shape(settings)
    directives = [f"--gres={conf['gres']}"] if conf.get("gres") else []
    directives += ["--exclusive"] if conf.get("exclusive") else []
    directives += list(conf.get("extra_directives") or ())
    t0 = time.perf_counter()
    cluster = SLURMCluster(
        cores=shape["threads_per_job"],
        processes=shape["processes_per_job"],
        job_cpu=shape["cpus_per_job"],
        memory=conf.get("memory", "4GB"),
        queue=conf.get("partition"),
        account=conf.get("account"),
        walltime=conf.get("walltime", "01:00:00"),
        job_extra_directives=directives,
        interface=conf.get("interface"),
        local_directory=conf.get("local_directory"),
        log_directory=conf.get("log_directory", "logs/slurm-workers"),
        job_name=f"filerate-{settings['name']}",
        # no dashboard; its HTTP server on a free port, not 8787 (may be taken on a node)
        scheduler_options={"dashboard": False, "dashboard_address": ":0", **scheduler_kwargs},
        security=security,  # with it, jobqueue speaks tls:// to the workers
    )
    try:
        script = cluster.job_script()
        cluster.scale(jobs=shape["jobs"])
        client = Client(cluster, timeout="120s")
    except BaseException:
        cluster.close(timeout=30)
        raise
    timeout = conf.get("queue_timeout_s", 600)
    try:
        client.wait_for_workers(shape["workers"], timeout=timeout)
    except BaseException as exc:
        states = _job_states(cluster)
        client.close(timeout=20)
        cluster.close(timeout=30)
        if isinstance(exc, TimeoutError):
            raise UserError(
                f"phase {settings['name']}: {shape['workers']} Dask workers in "
                f"{shape['jobs']} Slurm job(s) did not all start within slurm.queue_timeout_s="
                f"{timeout:g} s (jobs: {states or 'none seen'}): check `squeue`, the "
                "partition and the request, or raise queue_timeout_s"
            ) from None
        raise
    record = {
        "shape": shape,
        "queued_s": time.perf_counter() - t0,
        "jobs": _job_states(cluster),
        "job_script": script,
    }
    return cluster, client, record


def _job_states(cluster) -> dict:
    """name -> {job_id, state} of each worker job dask-jobqueue submitted."""
    out = {}
    for name, job in dict(cluster.workers).items():
        job_id = getattr(job, "job_id", None)
        entry = {"job_id": job_id, "state": None, "node": None}
        if job_id:
            info = scontrol_job(job_id) or {}
            entry["state"] = info.get("JobState")
            entry["node"] = info.get("NodeList")
        out[str(name)] = entry
    return out
