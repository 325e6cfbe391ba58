"""Start (or connect to) the Dask cluster a phase runs on, and say why it is that one.

- cpu: distributed.LocalCluster with the plan's worker count mapped to processes x threads;
- gpu: dask_cuda.LocalCUDACluster, one worker process per visible GPU (dask-cuda's model),
  the plan's worker count mapped to threads per GPU worker and its "GPU memory per worker"
  to a device-buffer budget per thread;
- external: an existing scheduler (address or scheduler_file), workers as they are;
- slurm: dask-jobqueue SLURMCluster, workers as Slurm jobs (filerate.engine.slurm);
- auto: gpu when a GPU, CuPy and dask-cuda are all usable, else cpu.

Local clusters listen on 127.0.0.1 only, their dashboard off unless asked for
(engine.dashboard); a cluster reached over the network is used with TLS
(engine.security). What listens where: docs/SECURITY.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from filerate.engine import dashboard, security
from filerate.errors import UserError
from filerate.units import gib_to_bytes

#: entries kept in the scheduler's transition log, from which `filerate process` counts
#: retried tasks (Dask's default, 1000, covers only ~200 batches per repeat)
TRANSITION_LOG_LENGTH = 50_000


@dataclass
class ClusterInfo:
    client: object
    cluster: object | None
    record: dict = field(default_factory=dict)
    device: str = "cpu"  # what the tasks use: "cpu" or "gpu"
    tls: security.Tls | None = None
    #: child processes of this process that existed before the cluster started: the
    #: rest are the cluster's own, ended at close if distributed leaves any behind
    older_children: frozenset = frozenset()

    def close(self) -> None:
        """Close the client, then the cluster; a worker stuck in a task is killed (after a
        few seconds) rather than left running. The seconds it took go in the record; the
        run's temporary certificates are removed last."""
        t0 = time.perf_counter()
        try:
            self.client.close(timeout=20)
        finally:
            try:
                if self.cluster is not None:
                    _close_local_cluster(self.cluster, self.older_children)
            finally:
                self.record["shutdown_s"] = time.perf_counter() - t0
                if self.tls is not None:
                    self.tls.cleanup()


def _create(settings: dict, backend: dict, tls, older: frozenset) -> tuple:
    """The client, cluster and record for the backend. Interrupted half-way (SIGTERM while
    a loaded machine is still starting workers), whatever cluster was made is closed here:
    nothing else holds it yet."""
    from distributed.deploy.spec import SpecCluster

    before = set(SpecCluster._instances)
    try:
        if backend["used"] == "external":
            return _connect_external(settings, tls), None, {"kind": "external"}
        if backend["used"] == "slurm":
            return _start_slurm(settings, tls)
        if backend["used"] == "gpu":
            return _start_gpu(settings, backend, tls)
        return _start_cpu(settings, tls)
    except BaseException:
        for made in set(SpecCluster._instances) - before:
            _close_local_cluster(made, older)
        raise


def _close_local_cluster(cluster, older_children: frozenset) -> None:
    """Close a cluster this process started. A nanny that restarts a worker it just killed
    (a task stuck at SIGTERM) can make distributed's own close fail, or leave a worker
    starting; whatever is left of this process's children is then ended, so no worker
    outlives the phase, and the cluster is marked closed so distributed's atexit hook does
    not try again (and print a traceback after our last line)."""
    from distributed.core import Status

    try:
        cluster.close(timeout=30)
    except Exception as exc:  # noqa: BLE001 - unwinding already; finished below
        print(
            f"filerate process: warning: cluster close: {type(exc).__name__}: {exc}; "
            "ending its processes",
            file=sys.stderr,
        )
    finally:
        _end_children(older_children)
        cluster.status = Status.closed


def _children() -> list:
    import psutil

    return psutil.Process().children(recursive=True)


def _end_children(older: frozenset, grace_s: float = 5.0) -> None:
    import psutil

    children = [p for p in _children() if p.pid not in older]
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


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


def start(settings: dict, backend: dict, run_dir: str | Path = ".") -> ClusterInfo:
    """Start the cluster and a client; the time this takes is recorded as startup_s.

    ``run_dir`` (the phase's results folder) holds the run's temporary TLS certificates
    while the cluster runs, where TLS is used (engine.security)."""
    t0 = time.perf_counter()
    # only the clusters filerate starts on this machine bind to 127.0.0.1
    local = backend["used"] in ("cpu", "gpu")
    tls = security.for_cluster(settings, run_dir, local=local, existing=_external_address(settings))
    older = frozenset(p.pid for p in _children())
    try:
        client, cluster, record = _create(settings, backend, tls, older)
    except BaseException:
        tls.cleanup()
        raise
    info = ClusterInfo(client=client, cluster=cluster, tls=tls, older_children=older)
    try:
        client.wait_for_workers(1, timeout=120)
    except BaseException:
        info.close()
        raise
    record["startup_s"] = time.perf_counter() - t0
    record["tls"] = tls.record
    record["dashboard"] = dashboard.record(
        client, settings.get("dashboard"), external=backend["used"] == "external"
    )
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
    info.record, info.device = record, backend["device"]
    return info


def _local_cluster_kwargs(settings: dict, tls: security.Tls) -> dict:
    # A batch whose worker dies is started again on another worker, at most task_retries
    # times (then KilledWorker and its files are recorded as errors); an existing
    # scheduler keeps its own setting (distributed.scheduler.allowed-failures).
    where = dashboard.local_cluster_kwargs(settings.get("dashboard"))  # 127.0.0.1
    return {
        "host": where["host"],
        "dashboard_address": where["dashboard_address"],
        "silence_logs": logging.WARNING,
        "security": tls.security,  # None unless tls.local: true
        "scheduler_kwargs": {
            "allowed_failures": settings["task_retries"],
            **where["scheduler_kwargs"],
        },
    }


def _long_transition_log():
    import dask

    return dask.config.set({"distributed.admin.low-level-log-length": TRANSITION_LOG_LENGTH})


def _external_address(settings: dict) -> str | None:
    """The address of the existing scheduler the phase names (read from its scheduler file),
    or None when filerate starts the cluster."""
    if settings.get("address"):
        return settings["address"]
    path = settings.get("scheduler_file")
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"scheduler_file {path}: cannot read the scheduler's address ({exc}); start the "
            "scheduler with `dask scheduler --scheduler-file` first"
        ) from None


def _connect_external(settings: dict, tls: security.Tls):
    from distributed import Client

    if settings.get("scheduler_file"):
        return Client(
            scheduler_file=settings["scheduler_file"], security=tls.security, timeout="60s"
        )
    return Client(settings["address"], security=tls.security, timeout="60s")


def _start_cpu(settings: dict, tls: security.Tls) -> tuple:
    from distributed import LocalCluster

    resolved = settings["resolved"]
    with _long_transition_log():
        cluster = LocalCluster(
            n_workers=resolved["processes"],
            threads_per_worker=resolved["threads_per_process"],
            processes=True,
            **_local_cluster_kwargs(settings, tls),
        )
    return _connect(cluster), cluster, {"kind": "LocalCluster"}


def _start_slurm(settings: dict, tls: security.Tls) -> tuple:
    """Dask workers as Slurm jobs; they reach the scheduler over the cluster network, so
    TLS is on unless opted out (the certificates sit in the phase folder, which the jobs
    see on the shared file system)."""
    from filerate.engine import slurm

    scheduler_kwargs = {"allowed_failures": settings["task_retries"]}
    with _long_transition_log():
        cluster, client, record = slurm.start_cluster(settings, scheduler_kwargs, tls.security)
    return client, cluster, {"kind": "SLURMCluster", "slurm": record}


def _start_gpu(settings: dict, backend: dict, tls: security.Tls) -> tuple:
    from dask_cuda import LocalCUDACluster

    resolved = settings["resolved"]
    n_gpus = max(1, len(backend["gpu_probe"].get("devices", [])))
    threads = max(1, min(math.ceil(resolved["workers"] / n_gpus), resolved["cpu_count"]))
    with _long_transition_log():
        cluster = LocalCUDACluster(
            threads_per_worker=threads, **_local_cluster_kwargs(settings, tls)
        )
    client = _connect(cluster)
    record = {"kind": "LocalCUDACluster", "gpu_mapping": _gpu_mapping(settings, n_gpus, threads)}
    return client, cluster, record


def _gpu_mapping(settings: dict, n_gpus: int, threads: int) -> dict:
    """How the plan's CPU-worker knobs map onto dask-cuda's one process per GPU."""
    workers = settings["resolved"]["workers"]
    budget = gib_to_bytes(settings["gpu_memory_per_worker_gb"])
    return {
        "gpus": n_gpus,
        "worker_processes": n_gpus,
        "threads_per_gpu_worker": threads,
        "plan_workers": workers,
        "plan_gpu_memory_per_worker_gb": settings["gpu_memory_per_worker_gb"],
        "device_budget_bytes_per_thread": budget,
        "device_budget_bytes_per_gpu": budget * threads,
        "how": (
            "dask-cuda runs one worker process per GPU. The plan's worker count becomes "
            f"threads per GPU worker (min(ceil({workers}/{n_gpus}), cpu_count)"
            f" = {threads}); its GPU memory per worker becomes each thread's device-buffer "
            "budget: a batch larger than it is copied and counted in chunks."
        ),
    }


def worker_info(client) -> dict:
    """address -> info of every worker, asked of the scheduler now.

    Not ``client.scheduler_info(n_workers=-1)``'s return value: that is the client's
    cached copy, which its own periodic refresh (every 2 s, asking for no workers) can
    overwrite between the fresh fetch and the return, so a busy run intermittently saw
    no workers at all (distributed 2026.7)."""
    if not _takes_n_workers(client):  # older distributed: identity lists every worker
        return client.scheduler_info()["workers"]
    return client.sync(client.scheduler.identity, n_workers=-1)["workers"]


def _takes_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters
