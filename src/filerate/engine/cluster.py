"""Start (or connect to) the Dask cluster a phase runs on, and say why it is that one.

- cpu: distributed.LocalCluster with the plan's worker count mapped to processes x threads;
- gpu: dask_cuda.LocalCUDACluster, one worker process per visible GPU (dask-cuda's model),
  the plan's worker count mapped to threads per GPU worker and its "GPU memory per worker"
  to a device-buffer budget per thread;
- external: an existing scheduler (address or scheduler_file), workers as they are;
- slurm: dask-jobqueue SLURMCluster, workers as Slurm jobs (filerate.engine.slurm);
- auto: gpu when a GPU, CuPy and dask-cuda are all usable, else cpu.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

from filerate.errors import UserError

GB = 1 << 30
#: entries kept in the scheduler's transition log, from which `filerate process` counts
#: retried tasks (Dask's default, 1000, covers only ~200 batches per repeat)
TRANSITION_LOG_LENGTH = 50_000


@dataclass
class ClusterInfo:
    client: object
    cluster: object | None
    record: dict = field(default_factory=dict)
    device: str = "cpu"  # what the tasks use: "cpu" or "gpu"

    def close(self) -> None:
        """Close the client, then the cluster; a worker stuck in a task is killed (after a
        few seconds) rather than left running. The seconds it took go in the record."""
        t0 = time.perf_counter()
        try:
            self.client.close(timeout=20)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=30)
            self.record["shutdown_s"] = time.perf_counter() - t0


def _connect(cluster):
    """A client for a local cluster; the cluster is shut down if that fails (a machine
    swamped by worker processes can miss the connection timeout)."""
    from distributed import Client

    try:
        return Client(cluster, timeout="120s")
    except BaseException:
        cluster.close(timeout=30)
        raise


SLURM_BACKEND = {
    "requested": "slurm",
    "used": "slurm",
    "device": "cpu",
    "reason": "backend: slurm requested (Dask workers as Slurm jobs)",
}


def choose_backend(settings: dict) -> dict:
    """Decide cpu / gpu / external from the settings; probe the GPU when it matters."""
    from filerate.engine import gpu

    if settings.get("address") or settings.get("scheduler_file"):
        probe = gpu.probe() if settings["backend"] == "gpu" else None
        return {
            "requested": settings["backend"],
            "used": "external",
            "device": "gpu" if settings["backend"] == "gpu" else "cpu",
            "reason": "an existing scheduler was given",
            "gpu_probe": probe,
        }
    requested = settings["backend"]
    if requested == "slurm":
        return {**SLURM_BACKEND, "gpu_probe": None}
    if requested == "cpu":
        return {
            "requested": "cpu",
            "used": "cpu",
            "device": "cpu",
            "reason": "backend: cpu requested",
            "gpu_probe": None,
        }
    probe = gpu.probe()
    if probe["usable"]:
        return {
            "requested": requested,
            "used": "gpu",
            "device": "gpu",
            "reason": probe["reason"],
            "gpu_probe": probe,
        }
    if requested == "gpu":

        raise UserError(
            f"backend 'gpu' requested but no GPU is usable: {probe['reason']}. "
            "Use backend: auto or cpu, or install the gpu extra (pip install -e '.[gpu]')."
        )
    return {
        "requested": "auto",
        "used": "cpu",
        "device": "cpu",
        "reason": f"no usable GPU: {probe['reason']}",
        "gpu_probe": probe,
    }


def start(settings: dict, backend: dict) -> ClusterInfo:
    """Start the cluster and a client; the time this takes is recorded as startup_s."""
    import dask
    from distributed import Client

    resolved = settings["resolved"]
    t0 = time.perf_counter()
    record: dict = {"kind": None}
    cluster = None
    quiet = logging.WARNING
    # A batch whose worker dies is started again on another worker, at most task_retries
    # times (then KilledWorker and its files are recorded as errors); an existing
    # scheduler keeps its own setting (distributed.scheduler.allowed-failures).
    scheduler_kwargs = {"allowed_failures": settings["task_retries"]}
    log_length = {"distributed.admin.low-level-log-length": TRANSITION_LOG_LENGTH}
    if backend["used"] == "external":
        if settings.get("scheduler_file"):
            client = Client(scheduler_file=settings["scheduler_file"], timeout="60s")
        else:
            client = Client(settings["address"], timeout="60s")
        record["kind"] = "external"
    elif backend["used"] == "slurm":
        from filerate.engine import slurm

        with dask.config.set(log_length):
            cluster, client, record["slurm"] = slurm.start_cluster(settings, scheduler_kwargs)
        record["kind"] = "SLURMCluster"
    elif backend["used"] == "gpu":
        from dask_cuda import LocalCUDACluster

        n_gpus = max(1, len(backend["gpu_probe"].get("devices", [])))
        threads = max(1, min(math.ceil(resolved["workers"] / n_gpus), resolved["cpu_count"]))
        budget = int(settings["gpu_memory_per_worker_gb"] * GB)
        with dask.config.set(log_length):
            cluster = LocalCUDACluster(
                threads_per_worker=threads,
                dashboard_address=None,
                silence_logs=quiet,
                scheduler_kwargs=scheduler_kwargs,
            )
        client = _connect(cluster)
        record["kind"] = "LocalCUDACluster"
        record["gpu_mapping"] = {
            "gpus": n_gpus,
            "worker_processes": n_gpus,
            "threads_per_gpu_worker": threads,
            "plan_workers": resolved["workers"],
            "plan_gpu_memory_per_worker_gb": settings["gpu_memory_per_worker_gb"],
            "device_budget_bytes_per_thread": budget,
            "device_budget_bytes_per_gpu": budget * threads,
            "how": (
                "dask-cuda runs one worker process per GPU. The plan's worker count becomes "
                f"threads per GPU worker (min(ceil({resolved['workers']}/{n_gpus}), cpu_count)"
                f" = {threads}); its GPU memory per worker becomes each thread's device-buffer "
                "budget: a batch larger than it is copied and counted in chunks."
            ),
        }
    else:
        from distributed import LocalCluster

        with dask.config.set(log_length):
            cluster = LocalCluster(
                n_workers=resolved["processes"],
                threads_per_worker=resolved["threads_per_process"],
                processes=True,
                dashboard_address=None,
                silence_logs=quiet,
                scheduler_kwargs=scheduler_kwargs,
            )
        client = _connect(cluster)
        record["kind"] = "LocalCluster"
    try:
        client.wait_for_workers(1, timeout=120)
    except BaseException:
        ClusterInfo(client=client, cluster=cluster).close()
        raise
    record["startup_s"] = time.perf_counter() - t0
    workers = [
        {
            "name": str(w.get("name")),
            "address": addr,
            "nthreads": w.get("nthreads"),
            "pid": w.get("pid"),
        }
        for addr, w in worker_info(client).items()
    ]
    record["address"] = client.scheduler.address
    record["allowed_failures"] = (
        settings["task_retries"] if cluster is not None else None  # external: its own
    )
    record["workers"] = workers
    record["processes"] = len(workers)
    record["total_threads"] = sum(w["nthreads"] or 0 for w in workers)
    record["threads_per_process"] = max((w["nthreads"] or 0 for w in workers), default=0)
    return ClusterInfo(client=client, cluster=cluster, record=record, device=backend["device"])


def worker_info(client) -> dict:
    """address -> info of every worker (scheduler_info lists only 5 unless told)."""
    info = (
        client.scheduler_info(n_workers=-1) if _takes_n_workers(client) else client.scheduler_info()
    )
    return info["workers"]


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
