"""Measuring one point of the search with filerate's own engine, on a cluster kept warm.

A search cluster is started once per process count, with the most threads per process
the grid allows; a point's thread count is then the number of tasks each worker runs at
once (a Dask resource, ``tune_slot``), so moving threads or batch size needs no restart.
Its start-up (cluster + kernel warm-up) is timed and kept apart from files/s. Each point
runs one warm-up pass and time-based repeats through engine.repeats and engine.rounds,
stopped by its StoppingRule (or early, once it is clearly below the best point).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import psutil

from filerate import fmt, soak
from filerate.confidence import StoppingRule
from filerate.engine import cluster, repeats, rounds, scheduler_log, tasks, taskspec
from filerate.tune import request as req
from filerate.tune.search import DominatedRule, Measured, Point

#: the Dask resource that caps a search worker's concurrent tasks (its "threads")
SLOT = "tune_slot"
#: seconds after which a point starts no more repeats beyond min_repeats (its stopping
#: rule's max_phase_s). Not a deadline: a point may run for its settings' timeout_s.
POINT_MAX_S = 120.0


async def _set_slots(slots: int, dask_worker=None) -> None:
    await dask_worker.set_resources(**{SLOT: slots})


def start_cluster(
    settings: dict, backend: dict, run_dir, manifest: str
) -> tuple[cluster.ClusterInfo, float]:
    """A cluster of exactly the settings' size with its kernels compiled and the path table
    loaded on every worker: (cluster, seconds this took)."""
    t0 = time.perf_counter()
    info = cluster.start(settings, backend, run_dir)
    try:
        info.client.run(tasks.warm_worker, info.device, manifest)
    except BaseException:
        info.close()
        raise
    return info, time.perf_counter() - t0


@dataclass
class Context:
    """What every point shares: the request, paths, backend and the prepared storage."""

    request: dict
    manifest: str
    data_dir: str
    files: int
    backend: dict
    run_dir: str
    storage: object = None  # engine.coldrun.RepeatStorage
    gpu_processes: int | None = None
    startups: list[dict] = field(default_factory=list)  # every cluster start, timed

    def settings(self, p: Point, name: str) -> dict:
        return req.phase_settings(self.request, p, name, self.gpu_processes)


class SearchClusters:
    """Warm search clusters by process count; the KEEP most recently used stay started,
    so a search that comes back to a process count does not pay its start-up again."""

    KEEP = 2

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.started: dict[int, cluster.ClusterInfo] = {}  # oldest first
        self.slots: dict[int, int] = {}
        self.info: cluster.ClusterInfo | None = None

    def get(self, p: Point) -> cluster.ClusterInfo:
        if p.processes in self.started:
            self.started[p.processes] = self.started.pop(p.processes)  # now the newest
        else:
            while len(self.started) >= self.KEEP:
                oldest = next(iter(self.started))
                self.slots.pop(oldest, None)
                self.started.pop(oldest).close()
            self.started[p.processes] = self._start(p)
        self.info = self.started[p.processes]
        return self.info

    def _start(self, p: Point) -> cluster.ClusterInfo:
        top = Point(p.processes, self.ctx.request["max_threads"], p.batch_size, p.gpu_memory_gb)
        settings = self.ctx.settings(top, f"tune-cluster-{p.processes}")
        info, seconds = start_cluster(
            settings, self.ctx.backend, self.ctx.run_dir, self.ctx.manifest
        )
        rec = info.record
        self.ctx.startups.append(
            {
                "purpose": "search",
                "processes": rec["processes"],
                "threads": rec["total_threads"],
                "startup_s": seconds,
            }
        )
        print(
            f"tune: search cluster {rec['processes']} × {rec['threads_per_process']} threads "
            f"started in {fmt.seconds(seconds)} (not counted in files/s)",
            file=sys.stderr,
        )
        return info

    def set_threads(self, p: Point) -> None:
        """Cap the concurrent tasks of each worker of p's cluster at p's threads."""
        if self.slots.get(p.processes) != p.threads:
            self.started[p.processes].client.run(_set_slots, p.threads)
            self.slots[p.processes] = p.threads

    def close(self) -> None:
        while self.started:
            self.started.pop(next(iter(self.started))).close()
        self.slots.clear()
        self.info = None


def measure_series(ctx: Context, info, settings: dict, rule) -> tuple:
    """A rounds.Series of one setting on a started cluster (its warm-up pass run now), and
    the repeats it records into (engine.repeats.PhaseRepeats: the batch rows). Files not
    done within the settings' timeout_s (the compare phase's, 600 s by default), counted
    from the warm-up, are recorded as timed out, as in a phase."""
    spec = taskspec.task_spec(settings, ctx.manifest, ctx.data_dir)
    spec["device"] = info.device
    batches = taskspec.batches(ctx.files, settings["batch_size"])
    rctx = repeats.RepeatContext(
        info.client,
        spec,
        batches,
        ctx.files,
        settings,
        time.monotonic() + settings["timeout_s"],
        scheduler_log.SchedulerLog(info.client),
        storage=ctx.storage,
    )
    done = repeats.PhaseRepeats()
    repeats.run_warmup(rctx, done)
    label = lambda i: f"repeat {i + 1}"  # noqa: E731
    return repeats.timed_series(rctx, done, rule, ctx.request["min_repeat_s"], label), done


class PointMeasurer:
    """``measure(point, best)`` for search.Search, on SearchClusters."""

    def __init__(self, ctx: Context, clusters: SearchClusters):
        self.ctx, self.clusters = ctx, clusters
        self.rule = StoppingRule(**ctx.request["rule"], max_phase_s=POINT_MAX_S)
        self.count = 0

    def __call__(self, p: Point, best: Measured | None) -> Measured:
        import dask

        self.count += 1
        info = self.clusters.get(p)
        self.clusters.set_threads(p)
        settings = self.ctx.settings(p, f"tune-{self.count}")
        rule = DominatedRule(self.rule, best.low if best else None)
        cpu0, t0 = psutil.cpu_times(), time.monotonic()
        with dask.annotate(resources={SLOT: 1}):
            series, done = measure_series(self.ctx, info, settings, rule)
            rounds.run_rounds([series])
        elapsed = time.monotonic() - t0
        extra = {
            **_summary(series),
            **breakdown(series, done, p.processes * p.threads),
            "cpu_busy": _busy(cpu0, psutil.cpu_times()),
            **_usage(),
            "seconds": elapsed,
        }
        s = series.summary()
        ci = s["files_per_s_ci"] or {}
        return Measured(
            p, s["files_per_s_median"] or 0.0, ci.get("low", 0.0), ci.get("high", 0.0), extra
        )


def _summary(series: rounds.Series) -> dict:
    s = series.summary()
    recs = series.records
    return {
        "repeats": s["repeats"],
        "stop_reason": series.stop_reason,
        "ci_attained": (s["files_per_s_ci"] or {}).get("attained"),
        "files_error": sum(r["files_error"] for r in recs),
        "timed_out": any(r.get("timed_out") for r in recs),
    }


def breakdown(series: rounds.Series, done: repeats.PhaseRepeats, slots: int) -> dict:
    """Where the timed repeats' time went: the share of thread-slot time spent in tasks
    (the rest is scheduling and idle), and the share of task time spent reading."""
    rows = [r for r in done.batch_rows if not r.warmup]
    wall = sum(r["wall_s"] for r in series.records)
    busy = sum(max(0.0, r.stop - r.start) for r in rows)
    read = sum(r.timing.read_s for r in rows)
    return {
        "slot_utilisation": busy / (wall * slots) if wall > 0 and slots else None,
        "read_share": read / busy if busy > 0 else None,
    }


def _busy(a, b) -> float | None:
    """The machine's CPU busy share between two psutil.cpu_times() (all users)."""
    total = sum(b) - sum(a)
    idle = (b.idle - a.idle) + (getattr(b, "iowait", 0) - getattr(a, "iowait", 0))
    return 1 - idle / total if total > 0 else None


def _usage() -> dict:
    u = soak.tree_usage(os.getpid())
    return {"rss_bytes": u["rss_bytes"], "os_threads": u["threads"]}
