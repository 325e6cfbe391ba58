"""`filerate tune`: find the fastest processes x threads x batch size on this machine,
prove it against the plan's setting in the same run, and cache it per hardware fingerprint.

The steps: request (tune.request) -> fingerprint and cache look-up (tune.fingerprint,
tune.cache) -> optional RAM-disk copy -> hill-climbing search on warm clusters
(tune.search, tune.measure) -> best vs the plan's setting on exact clusters, interleaved
(tune.compare) -> points.tsv, best.yaml, tune.json, tune.png (tune.output, tune.plot).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from filerate import atomic, fmt
from filerate import config as cfg
from filerate.engine import cluster, coldrun
from filerate.errors import UserError
from filerate.tune import cache, compare, fingerprint, measure, output, plot
from filerate.tune import request as req
from filerate.tune.search import Measured, Search

#: request keys that do not change what is measured (left out of the cache key)
_NOT_IN_KEY = ("budget_s", "cache_dir", "confirm_s", "force")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="search the fastest processes x threads x batch size here, and prove it",
        description=(
            "Search worker processes x threads per process x batch size (and the device "
            "budget per thread on a GPU) for the highest files/s on this machine within "
            "tune.budget_s, compare the best with the plan's setting in interleaved rounds, "
            "and write points.tsv, best.yaml (a config fragment with a `tuned` phase), "
            "tune.json and tune.png into --out. Results are cached per hardware fingerprint."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--request", help="the tune request as JSON (what Snakemake passes)")
    src.add_argument("--config", help="a config file; its `tune` section says what to tune")
    p.add_argument("--manifest", required=True, help="the corpus manifest.parquet")
    p.add_argument("--data-dir", required=True, help="the corpus files (read in place)")
    p.add_argument("--out", default="results/tune", help="output folder (default results/tune)")
    p.add_argument("--budget-s", type=float, help="override tune.budget_s")
    p.add_argument("--force", action="store_true", help="measure again, ignoring the cache")
    p.set_defaults(func=run)


def _request(args) -> dict:
    request = json.loads(args.request) if args.request else req.build(cfg.load(args.config))
    if args.budget_s is not None:
        if args.budget_s <= 0:
            raise UserError(f"--budget-s {args.budget_s:g}: must be > 0")
        request["budget_s"] = args.budget_s
    return request


def run(args) -> int:
    t0 = time.monotonic()
    request = _request(args)
    if not Path(args.manifest).is_file():
        raise UserError(f"manifest {args.manifest} does not exist: run `filerate corpus` first")
    if not Path(args.data_dir).is_dir():
        raise UserError(f"data directory {args.data_dir} does not exist")
    out = Path(args.out)
    backend = cluster.choose_backend(request["base"])
    devices = (backend.get("gpu_probe") or {}).get("devices")
    fp = fingerprint.fingerprint(args.data_dir, devices if backend["used"] == "gpu" else None)
    key = {k: v for k, v in request.items() if k not in _NOT_IN_KEY}
    forced = args.force or request.get("force")
    cached = None if forced else cache.lookup(request["cache_dir"], fp, key)
    if cached:
        print(
            f"tune: reusing the result measured {time.ctime(cached['result']['measured_at'])} "
            f"on this hardware ({cache.path_for(request['cache_dir'], fp)}; --force measures "
            "again)",
            file=sys.stderr,
        )
        result = {**cached["result"], "from_cache": True}
        _write(out, pd.DataFrame(cached["points"]), cached["fragment"], result)
        return 0
    frame, fragment, result = _measure(request, args, backend, fp, t0)
    _write(out, frame, fragment, result)
    if result["status"] == "ok":
        where = cache.store(
            request["cache_dir"],
            fp,
            key,
            {"result": result, "points": frame.to_dict("records"), "fragment": fragment},
        )
        print(f"tune: cached as {where}", file=sys.stderr)
    return 0 if result["status"] == "ok" else 1


def _write(out: Path, frame: pd.DataFrame, fragment: dict, result: dict) -> None:
    output.write_all(out, frame, fragment, result)
    plan = ((result.get("comparison") or {}).get("plan") or {}).get("files_per_s_median")
    atomic.write_bytes(out / "tune.png", plot.tune_png(frame, plan, result["compare_phase"]))
    print(f"tune: {result['sentence']}", file=sys.stderr)
    print(f"tune: wrote {out}/best.yaml, points.tsv, tune.json, tune.png", file=sys.stderr)


@contextlib.contextmanager
def _data(request: dict, args):
    """The folder the points read: a RAM-disk copy (removed afterwards) or the corpus."""
    if not request["base"]["staging"]:
        yield args.data_dir, None
        return
    from filerate.stage import ramdisk_run_dir, stage

    dest = ramdisk_run_dir(request["ramdisk"]["root"]) / "tune"
    try:
        rec = stage(
            args.manifest,
            args.data_dir,
            str(dest),
            phase="tune",
            corpus=request["corpus"],
            budget_gb=request["base"].get("ramdisk_budget_gb"),
            min_free_memory_gb=request["ramdisk"]["min_free_memory_gb"],
        )
        print(
            f"tune: staged {rec['files']:,} files in {fmt.seconds(rec['seconds'])}", file=sys.stderr
        )
        yield str(dest), rec
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _progress(m: Measured, i: int) -> None:
    e = m.extra
    errors = f", {e['files_error']:,} file errors" if e.get("files_error") else ""
    print(
        f"tune: point {i}: {m.point.label()} → {fmt.rate_ci(m.median, m.low, m.high)} "
        f"({e.get('repeats')} repeats, {e.get('stop_reason')}{errors}; "
        f"{fmt.seconds(e.get('seconds'))})",
        file=sys.stderr,
    )


def _measure(request: dict, args, backend: dict, fp: dict, t0: float):
    """Stage (if asked), search, compare: (points frame, best.yaml fragment, result)."""
    manifest = coldrun.read_manifest(args.manifest)
    gpu_procs = (
        len((backend.get("gpu_probe") or {}).get("devices") or [1])
        if backend["used"] == "gpu"
        else None
    )
    with _data(request, args) as (data_dir, staging):
        ctx = measure.Context(
            request,
            args.manifest,
            data_dir,
            len(manifest),
            backend,
            str(Path(args.out)),
            gpu_processes=gpu_procs,
        )
        base = req.phase_settings(request, req.plan_point(request, gpu_procs), "tune", gpu_procs)
        ctx.storage = coldrun.RepeatStorage.prepare(
            base, args.manifest, manifest, data_dir, staging
        )
        grid = req.grid(request, len(manifest), gpu_procs)
        cold = request["base"]["cache"] == "cold"
        start = req.start_point(grid, len(manifest), request["cpu_count"], cold)
        clusters = measure.SearchClusters(ctx)
        try:
            clusters.get(start)  # its start-up tells how long the comparison's will take
            reserve = request["confirm_s"] + 2 * ctx.startups[-1]["startup_s"]
            budget = request["budget_s"] - (time.monotonic() - t0) - reserve
            search = Search(
                grid, measure.PointMeasurer(ctx, clusters), max(budget, 0.0), on_point=_progress
            )
            outcome = search.run(start)
        finally:
            clusters.close()
        print(
            f"tune: search stopped ({outcome.stop_reason}) after "
            f"{len(outcome.points)} of {grid.size()} points",
            file=sys.stderr,
        )
        comparison = None
        if outcome.best is not None:
            plan = req.plan_point(request, gpu_procs)
            comparison = compare.compare(ctx, outcome.best.point, plan, request["confirm_s"])
    return _result(request, backend, fp, grid, outcome, comparison, ctx, staging, t0)


def _result(request, backend, fp, grid, outcome, comparison, ctx, staging, t0):
    frame = output.points_frame(outcome.points, outcome.best)
    ok = outcome.best is not None and not comparison["best"]["files_error"]
    result = {
        "status": "ok" if ok else "failed",
        "measured_at": time.time(),
        "wall_s": time.monotonic() - t0,
        "budget_s": request["budget_s"],
        "fingerprint": fp,
        "fingerprint_digest": fingerprint.digest(fp),
        "compare_phase": request["compare_phase"],
        "corpus": request["corpus"],
        "files": ctx.files,
        "analysis": request["base"]["analysis"],
        "cache": request["base"]["cache"],
        "staged": staging is not None,
        "staging_s": staging["seconds"] if staging else None,
        "backend": {k: backend.get(k) for k in ("requested", "used", "device", "reason")},
        "grid": {k: list(v) for k, v in vars(grid).items()},
        "grid_size": grid.size(),
        "points_measured": len(outcome.points),
        "path": [p.as_dict() for p in outcome.path],
        "stop_reason": outcome.stop_reason,
        "startups": ctx.startups,
        "comparison": comparison,
        "from_cache": False,
    }
    # the setting to keep is the winner of the interleaved comparison: where the plan's
    # own settings measured faster beyond the CI, the search's best is not kept
    plan_won = ok and output.plan_won(comparison)
    result["winner"] = "plan" if plan_won else "search"
    result["sentence"] = output.sentence(result)
    if not ok:
        return frame, {}, result
    point = req.plan_point(request, ctx.gpu_processes) if plan_won else outcome.best.point
    return frame, req.tuned_fragment(request, point, backend["used"]), result
