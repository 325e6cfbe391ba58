"""What to tune, resolved from the config: the corpus, analysis, backend and cache state,
the plan phase to compare with, the grid of settings, and the phase settings of a point.

A request is plain JSON (what the Snakemake rule passes and the cache is keyed by).
"""

from __future__ import annotations

import copy
import math

from filerate import config as cfg
from filerate.errors import ConfigError
from filerate.tune.search import Grid, Point

#: the name of the phase best.yaml adds to the plan
TUNED_PHASE = "tuned"


def _compare_phase(config: dict, name: str | None) -> str:
    phases = config["phases"]
    if name is not None:
        if name not in phases:
            raise ConfigError(
                f"config: tune.compare_phase = {name!r}: must be one of the phases: "
                f"{', '.join(phases)}"
            )
        return name
    warm = [n for n, p in phases.items() if p.get("cache", "warm") == "warm"]
    return (warm or list(phases))[-1]


def build(config: dict, cpu_count: int | None = None) -> dict:
    """The request from a validated config (``config.validate`` fills tune's defaults)."""
    tune = config["tune"]
    cpus = cpu_count or cfg.usable_cpus()
    compare = _compare_phase(config, tune["compare_phase"])
    plan = cfg.phases(config, cpus)[compare]
    corpus = tune["corpus"] or plan["corpus"]
    if corpus not in config["corpora"]:
        raise ConfigError(
            f"config: tune.corpus = {corpus!r}: must be one of the corpora: "
            f"{', '.join(config['corpora'])}"
        )
    cold = tune["cache"] == "cold"
    staging = tune["staging"] if tune["staging"] is not None else plan["staging"]
    if cold and tune["staging"]:
        raise ConfigError(
            "config: tune.staging = true with tune.cache = cold: a cold tune reads the corpus "
            "in place (set staging: false or null)"
        )
    base = {
        **copy.deepcopy(plan),
        "corpus": corpus,
        "analysis": tune["analysis"] or plan["analysis"],
        "backend": tune["backend"] or plan["backend"],
        "cache": tune["cache"],
        "staging": bool(staging) and not cold,
        "ablation": None,
    }
    return {
        "compare_phase": compare,
        "corpus": corpus,
        "corpus_settings": config["corpora"][corpus],
        "base": base,
        "cpu_count": cpus,
        "max_threads": tune["max_threads"] or (32 if cold else 4) * cpus,
        "batch_sizes": sorted(set(tune["batch_sizes"])),
        "gpu_memory_gb": sorted(set(tune["gpu_memory_gb"])),
        "budget_s": float(tune["budget_s"]),
        "rule": {k: tune[k] for k in ("min_repeats", "max_repeats", "ci_target_pct")},
        "min_repeat_s": float(tune["min_repeat_s"]),
        "confirm_s": float(tune["confirm_s"]),
        "cache_dir": tune["cache_dir"],
        "ramdisk": config["ramdisk"],
        "force": tune["force"],
    }


def _powers_of_two(top: int) -> tuple[int, ...]:
    values = [2**i for i in range(int(math.log2(max(1, top))) + 1)]
    return tuple(sorted(set(values) | {top}))


def grid(request: dict, files: int, gpu_processes: int | None) -> Grid:
    """Processes 1 .. cpu_count (the GPU's one per device), threads per process in powers
    of two up to max_threads, the batch sizes that fit the corpus, and on a GPU the
    device budgets per thread."""
    cpus = request["cpu_count"]
    batches = tuple(b for b in request["batch_sizes"] if b <= files) or (files,)
    if gpu_processes:
        top = min(request["max_threads"], cpus)  # dask-cuda caps threads at cpu_count
        return Grid((gpu_processes,), _powers_of_two(top), batches, tuple(request["gpu_memory_gb"]))
    return Grid(_powers_of_two(cpus), _powers_of_two(request["max_threads"]), batches)


def start_point(g: Grid, files: int, cpus: int, cold: bool = False) -> Point:
    """One process, as many threads as cores (cold: 8 per core, reads in flight on
    storage), and a batch size that gives every thread about four tasks per pass (small
    enough to balance, large enough to amortise)."""
    threads = g.nearest("threads", cpus * (8 if cold else 1))
    batch = g.nearest("batch_size", max(1, files // (4 * threads)))
    gpu = g.nearest("gpu_memory_gb", 0.25) if g.gpu_memory_gb != (None,) else None
    return Point(g.processes[0], threads, batch, gpu)


def phase_settings(request: dict, p: Point, name: str, gpu_processes: int | None = None) -> dict:
    """The full phase settings of a point (resolved workers included), as `filerate
    process` would get them: no floor, one warm-up, the tune's repeat rule."""
    s = copy.deepcopy(request["base"])
    per = gpu_processes or p.processes
    s.update(
        name=name,
        workers=per * p.threads,
        processes=None if gpu_processes else p.processes,
        batch_size=p.batch_size,
        floor=False,
        warmup=1,
        repeats=None,
        duration_s=None,
        dask_report=False,
        **request["rule"],
    )
    if p.gpu_memory_gb is not None:
        s["gpu_memory_per_worker_gb"] = p.gpu_memory_gb
    s["resolved"] = cfg.resolve_workers(s, request["cpu_count"])
    return s


def plan_point(request: dict, gpu_processes: int | None) -> Point:
    """The compare phase's own settings as a point (its resolved processes x threads)."""
    r = request["base"]["resolved"]
    gpu = request["base"]["gpu_memory_per_worker_gb"] if gpu_processes else None
    if gpu_processes:
        threads = max(1, min(math.ceil(r["workers"] / gpu_processes), r["cpu_count"]))
        return Point(gpu_processes, threads, request["base"]["batch_size"], gpu)
    return Point(r["processes"], r["threads_per_process"], request["base"]["batch_size"], gpu)


def tuned_fragment(request: dict, best: Point, backend_used: str) -> dict:
    """best.yaml: the corpus and a ``tuned`` phase with the best settings; a config on
    its own (it validates), and a fragment that adds the phase to the plan when given to
    Snakemake with --configfile."""
    base = request["base"]
    phase = {
        "corpus": request["corpus"],
        "backend": backend_used if backend_used in ("cpu", "gpu") else base["backend"],
        "workers": best.processes * best.threads,
        "batch_size": best.batch_size,
        "analysis": base["analysis"],
        "staging": base["staging"],
        "cache": base["cache"],
    }
    if backend_used == "gpu":
        phase["workers"] = best.processes * best.threads
        phase["gpu_memory_per_worker_gb"] = best.gpu_memory_gb
    else:
        phase["processes"] = best.processes
    if base["cache"] == "cold":
        phase["eviction"] = base["eviction"]
    for key in ("ramdisk_budget_gb", "target_files_per_s"):
        if base.get(key) is not None:
            phase[key] = base[key]
    return {
        "corpora": {request["corpus"]: copy.deepcopy(request["corpus_settings"])},
        "phases": {TUNED_PHASE: phase},
    }
