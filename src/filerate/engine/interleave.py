"""Interleaved comparisons: which phases are measured together, in what order, and the
paired gain of each variant over its base.

An ablation's variants and their base form one group, run by one ``filerate
interleave`` step (engine.group). Members that can share a Dask cluster (same processes
x threads and cluster settings: batch size, analysis, cache, staging differ only in
what the tasks are told) share one; members that need another (threads, processes, a
GPU) get their own, started side by side when memory allows, else run in blocks, one
member after another. The group's repeats then run in rounds A, B, C, A, B, C ... so a
drift of the machine hits every member alike, and each round gives a paired ratio
variant / base; the gain is the median of those ratios with its order-statistic CI.

Pair modes (run.json ``interleave.mode``, the comparison table):

- ``one cluster``: both on the same warm cluster, interleaved per round;
- ``clusters side by side``: each on its own warm cluster, both alive, interleaved;
- ``blocks``: not enough memory for both clusters at once: the clusters take turns, each
  started (and warmed up) for a block of BLOCK_ROUNDS rounds, then closed: A-block,
  B-block, A-block ... until every member's rule agrees; the ratio of medians with a
  bootstrap CI (the two sides' repeats are not in the same rounds).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from filerate.confidence import median_ci, ratio_ci
from filerate.engine import rounds

ONE_CLUSTER = "one cluster"
SIDE_BY_SIDE = "clusters side by side"
BLOCKS = "blocks"
#: the settings Dask's cluster is made from (engine.cluster): members equal in these and
#: in the resolved processes x threads can share one cluster
CLUSTER_SETTINGS = ("backend", "task_retries", "dashboard", "tls", "address", "scheduler_file")
#: share of the available memory the extra clusters may take when started side by side
MEMORY_SHARE = 0.5
GROUP = "ablation"
#: rounds each cluster runs before the next one's block, when they cannot run side by side
BLOCK_ROUNDS = 3


# ---- which phases run together ---------------------------------------------------------


def why_alone(settings: dict) -> str | None:
    """Why a phase cannot be measured in a group (None when it can)."""
    if settings.get("address") or settings.get("scheduler_file"):
        return "an existing scheduler: filerate starts no cluster to share"
    if settings.get("worker_staging"):
        return "worker_staging: each worker copies its own batches"
    if settings.get("duration_s"):
        return "a soak runs alone"
    if settings.get("dask_report"):
        return "dask_report: the extra untimed repeat belongs to one phase"
    return None


def _evicts_in_place(s: dict) -> bool:
    return s.get("cache") == "cold" and not s.get("staging")


def plan(phases: dict[str, dict], enabled: bool) -> dict:
    """The groups to run interleaved: {group: [member, ...]} (base first) and the ablation
    phases left to run alone with why: {"groups": ..., "alone": {phase: why}}.

    One group: every ablation variant and the bases they compare against. A warm member
    reading its corpus in place is left out beside a cold in-place member of that corpus
    (the cold one's eviction would make its repeats cold too)."""
    out: dict = {"groups": {}, "alone": {}}
    if not enabled:
        return out
    wanted: list[str] = []
    for name, s in phases.items():
        if s.get("ablation"):
            for n in (s["ablation"].get("base"), name):
                if n in phases and n not in wanted:
                    wanted.append(n)
    members = []
    cold_corpora = {phases[n]["corpus"] for n in wanted if _evicts_in_place(phases[n])}
    for n in wanted:
        s = phases[n]
        why = why_alone(s)
        warm_in_place = not s.get("staging") and s.get("cache", "warm") == "warm"
        if why is None and warm_in_place and s["corpus"] in cold_corpora:
            why = "reads in place the corpus a cold member evicts before its repeats"
        if why:
            out["alone"][n] = why
        else:
            members.append(n)
    if len(members) >= 2:
        out["groups"][GROUP] = members
    return out


def cluster_key(settings: dict, device: str) -> tuple:
    """Members with equal keys share a cluster: the cluster settings, processes x threads
    and, on a GPU, the GPU memory per worker (it sizes the workers' memory pool)."""
    r = settings["resolved"]
    gpu = settings["gpu_memory_per_worker_gb"] if device == "gpu" else None
    keys = tuple(repr(settings.get(k)) for k in CLUSTER_SETTINGS)
    return (*keys, r["processes"], r["threads_per_process"], device, gpu)


def clusters(members: dict[str, dict], device_of) -> list[list[str]]:
    """Members grouped by cluster key, in member order (``device_of(settings)``: cpu/gpu)."""
    by_key: dict[tuple, list[str]] = {}
    for name, s in members.items():
        by_key.setdefault(cluster_key(s, device_of(s)), []).append(name)
    return list(by_key.values())


def fits_side_by_side(extra_processes: int, rss_per_process: float, available: float) -> bool:
    """Whether the other clusters' worker processes, each as big as the first cluster's
    measured, fit in MEMORY_SHARE of the available memory."""
    return extra_processes * rss_per_process <= MEMORY_SHARE * available


# ---- the rounds ----------------------------------------------------------------------------


def run_group_rounds(
    series: list[rounds.Series],
    members: int,
    clock=time.monotonic,
    max_rounds: int | None = None,
    first_round: int = 0,
) -> list[tuple[int, str]]:
    """Rounds in which every series runs one repeat, in order, until all of them agree
    after one round that they may stop, so every round pairs every member.

    Each series' own rule decides; the elapsed time it sees is the group's divided by
    ``members``, so max_phase_s stays a per-member budget. A ``timed_out`` record stops
    everything. With ``max_rounds`` (a block), at most that many rounds run and the
    series may be left undecided. Returns the (round, name) order."""
    t0 = clock()
    order: list[tuple[int, str]] = []
    rnd = first_round
    while max_rounds is None or rnd < first_round + max_rounds:
        for s in series:
            rec = s.measure(len(s.records))
            s.records.append(rec)
            order.append((rnd, s.name))
            if rec.get("timed_out"):
                for other in series:
                    other.stop_reason = "timeout"
                return order
        elapsed = (clock() - t0) / max(1, members)
        decisions = [s.rule.decide(s.values(), elapsed) for s in series]
        if all(stop for stop, _ in decisions):
            for s, (_, reason) in zip(series, decisions, strict=True):
                s.stop_reason = reason
            return order
        rnd += 1
    return order


# ---- the paired gain ---------------------------------------------------------------------


@dataclass(frozen=True)
class Gain:
    ratio: float
    low: float
    high: float
    n: int
    level: float
    attained: float
    method: str

    def as_dict(self) -> dict:
        return {
            "ratio": self.ratio,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "level": self.level,
            "attained": self.attained,
            "method": self.method,
        }


def paired_gain(variant: list[float], base: list[float]) -> Gain | None:
    """Median of the per-round ratios variant[i] / base[i] with the distribution-free CI
    of that median (order statistics: exact, no resampling, the same data give the same
    interval). None without a pair."""
    ratios = [v / b for v, b in zip(variant, base, strict=False) if b > 0]
    if not ratios:
        return None
    c = median_ci(ratios)
    return Gain(c.median, c.low, c.high, c.n, c.level, c.attained, "paired per round")


def unpaired_gain(variant: list[float], base: list[float]) -> Gain | None:
    """Blocks mode: ratio of the medians with a bootstrap CI (fixed seed). None without
    values on both sides or when the base's median is 0 (no ratio)."""
    if not variant or not base or statistics.median(base) <= 0:
        return None
    c = ratio_ci(variant, base)
    n = min(len(variant), len(base))
    return Gain(c.ratio, c.low, c.high, n, c.level, c.level, "ratio of medians, bootstrap")


def pair_record(variant: str, base: str, mode: str, vals: dict[str, list[float]]) -> dict:
    """run.json ``interleave`` of a variant: its base, the pair's mode and the gain."""
    fn = unpaired_gain if mode == BLOCKS else paired_gain
    gain = fn(vals.get(variant, []), vals.get(base, []))
    return {"base": base, "mode": mode, "gain": gain.as_dict() if gain else None}


def pair_mode(a: str, b: str, cluster_of: dict[str, int], side_by_side: bool) -> str:
    if cluster_of[a] == cluster_of[b]:
        return ONE_CLUSTER
    return SIDE_BY_SIDE if side_by_side else BLOCKS
