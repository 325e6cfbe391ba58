"""The proof: the best setting and the plan's (compare_phase's) measured in the same run,
each on a fresh cluster of exactly its size (no resource cap: what a phase would run),
in interleaved rounds A, B, A, B ... so a drift of the shared machine hits both alike;
the ratio of their medians with its bootstrap CI says how much faster the best is."""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack

from filerate import fmt
from filerate.confidence import StoppingRule, ratio_ci
from filerate.engine import rounds
from filerate.tune.measure import Context, measure_series, start_cluster
from filerate.tune.search import Point


def _start(ctx: Context, stack: ExitStack, p: Point, name: str):
    settings = ctx.settings(p, name)
    info, seconds = start_cluster(settings, ctx.backend, ctx.run_dir, ctx.manifest)
    stack.callback(info.close)
    rec = info.record
    ctx.startups.append(
        {
            "purpose": name,
            "processes": rec["processes"],
            "threads": rec["total_threads"],
            "startup_s": seconds,
        }
    )
    print(
        f"tune: {name} cluster {rec['processes']} × {rec['threads_per_process']} threads "
        f"started in {fmt.seconds(seconds)} (not counted in files/s)",
        file=sys.stderr,
    )
    return settings, info


def compare(ctx: Context, best: Point, plan: Point, seconds: float) -> dict:
    """Measure best and plan interleaved for about ``seconds``; their medians, CIs, the
    ratio best/plan with its CI, and each side's cluster (processes, threads). Both
    clusters are started before either is measured (a slow start-up eats no side's time)."""
    r = ctx.request["rule"]
    rule = StoppingRule(r["min_repeats"], r["max_repeats"], r["ci_target_pct"], seconds)
    t0 = time.monotonic()
    sides = {}
    with ExitStack() as stack:
        started = {
            name: _start(ctx, stack, p, name) for name, p in (("tuned", best), ("plan", plan))
        }
        for name, (settings, info) in started.items():
            series, _ = measure_series(ctx, info, settings, rule)
            series.name = name
            sides[name] = (series, info.record)
        rounds.run_rounds([sides["tuned"][0], sides["plan"][0]])
    out = {"seconds": time.monotonic() - t0, "order": "interleaved A, B, A, B ..."}
    for key, name, p in (("best", "tuned", best), ("plan", "plan", plan)):
        series, rec = sides[name]
        out[key] = {
            "point": p.as_dict(),
            **series.summary(),
            "files_error": sum(x["files_error"] for x in series.records),
            "processes": rec["processes"],
            "threads_per_process": rec["threads_per_process"],
        }
    a, b = sides["tuned"][0].values(), sides["plan"][0].values()
    if a and b and min(b) > 0:
        out["ratio"] = ratio_ci(a, b).as_dict()
    return out
