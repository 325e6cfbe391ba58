"""How a phase's timed repeats are chosen, and what is measured beside them.

Three modes (run.json ``summary.repeat_mode``):

- ``ci`` (``repeats: null``, the default): time-based repeats from min_repeats on until
  the 95 % CI of the median files/s is within ±ci_target_pct, or max_repeats, or
  max_phase_s; the floor (engine.floor) runs in the same rounds, A, B, A, B ...;
- ``fixed`` (``repeats: N``): exactly N time-based repeats (and N of the floor);
- ``soak`` (``duration_s``): repeats of soak_interval_s for duration_s seconds, the
  process tree's memory, descriptors, threads and the RAM disk read after each, judged
  by filerate.soak (no floor: the soak watches filerate alone).

Afterwards: the median with its CI, the floor and filerate's fraction of it (with the
CI of that ratio), the latency percentiles of the timed repeats' tasks, and what else
used the CPU while they ran (engine.monitor.interference).
"""

from __future__ import annotations

import math
import os
from contextlib import ExitStack

from filerate import soak
from filerate.confidence import StoppingRule, median_ci, ratio_ci
from filerate.engine import batchio, floor, latency, monitor, repeats, rounds

#: a floor repeat lasts this share of min_repeat_s: the bare loop needs no long repeat to
#: average out fixed costs (it has none per pass), and the phase's time is shared
FLOOR_REPEAT_SHARE = 0.5
#: a CI target no interval meets (a half-width is never negative): soak intervals run
#: for duration_s whatever their spread
_NEVER = -1.0


def repeat_mode(settings: dict) -> str:
    if settings.get("duration_s"):
        return "soak"
    return "fixed" if settings.get("repeats") else "ci"


def stopping_rule(settings: dict) -> tuple[StoppingRule, float]:
    """The rule that ends the timed repeats, and the length of one repeat (seconds)."""
    mode = repeat_mode(settings)
    if mode == "soak":
        rule = StoppingRule(1, 10**9, _NEVER, float(settings["duration_s"]))
        return rule, float(settings["soak_interval_s"])
    if mode == "fixed":
        n = int(settings["repeats"])
        return StoppingRule(n, n, float(settings["ci_target_pct"]), math.inf), _min_s(settings)
    return StoppingRule.from_settings(settings), _min_s(settings)


def _min_s(settings: dict) -> float:
    return float(settings["min_repeat_s"])


def _label(settings: dict):
    mode, n = repeat_mode(settings), settings.get("repeats")
    if mode == "soak":
        return lambda i: f"interval {i + 1}"
    return (lambda i: f"repeat {i + 1}/{n}") if mode == "fixed" else (lambda i: f"repeat {i + 1}")


def floor_plan(settings: dict, backend: dict, record: dict) -> tuple[int | None, str]:
    """(threads, why): the floor's thread count (the cluster's total threads), or None
    and the reason it is not run."""
    if not settings.get("floor", True):
        return None, "floor: false in the settings"
    if repeat_mode(settings) == "soak":
        return None, "not measured in a soak"
    if settings.get("cache") == "cold" and not settings.get("staging"):
        # its passes are not evicted, so in place they would read warm pages; a staged
        # cold phase reads the RAM-disk copy, which the floor reads just the same
        return None, "not measured in a cold phase (the floor's passes would read warm pages)"
    if backend.get("used") == "external":
        return None, "an existing scheduler: the files need not be readable here"
    threads = int(record.get("total_threads") or 0)
    if threads < 1:
        return None, "no worker threads were recorded"
    return threads, "same threads as the cluster"


def run_timed(ctx, done, settings: dict, floor_threads: int | None, ramdisk: str | None):
    """The timed repeats (and the floor's, interleaved); returns the floor's record or
    None, the soak intervals or None, and the round order."""
    with ExitStack() as stack:
        series, intervals = timed_series(ctx, done, settings, floor_threads, ramdisk, stack)
        order = rounds.run_rounds(series)
    return series[0], floor_record(series, floor_threads), intervals, order


def timed_series(ctx, done, settings: dict, floor_threads, ramdisk, stack: ExitStack):
    """filerate's series and, with floor_threads, the floor's (its threads held open in
    ``stack``), ready for rounds; and the soak intervals list (or None)."""
    rule, min_s = stopping_rule(settings)
    fr = repeats.timed_series(ctx, done, rule, min_s, _label(settings))
    intervals = None
    if repeat_mode(settings) == "soak":
        fr, intervals = _with_usage(fr, ramdisk)
    series = [fr]
    if floor_threads:
        table = batchio.file_table(ctx.spec_base["manifest"])
        fl = floor.Floor(
            table, ctx.spec_base["data_dir"], floor_threads, ctx.settings["max_file_bytes"]
        )
        measure = stack.enter_context(fl.session(min_s * FLOOR_REPEAT_SHARE))
        series.append(rounds.Series("floor", measure, rule))
    return series, intervals


def floor_record(series: list, floor_threads: int | None) -> dict | None:
    """The floor's run.json record from the series timed_series made (None without)."""
    return floor.record(series[1], floor_threads) if floor_threads else None


def _with_usage(series: rounds.Series, ramdisk: str | None):
    """The series, each of whose repeats also reads the process tree's usage (soak)."""
    intervals: list[dict] = []
    inner = series.measure

    def measure(i: int) -> dict:
        rec = inner(i)
        usage = soak.tree_usage(os.getpid(), ramdisk)
        rec["usage"] = usage
        intervals.append({"t": rec["stop"], "files_per_s": rec["files_per_s"], **usage})
        return rec

    series.measure = measure
    return series, intervals


def summary(series: rounds.Series, floor_rec: dict | None) -> dict:
    """run.json ``summary`` keys of the CI rule and the floor."""
    out = series.summary()
    out.pop("repeats", None)
    out["fraction_of_floor"] = None
    out["fraction_of_floor_ci"] = None
    if floor_rec and floor_rec.get("files_per_s_median") and series.values():
        floor_values = [r["files_per_s"] for r in floor_rec["repeats"]]
        ci = ratio_ci(series.values(), floor_values)
        out["fraction_of_floor"] = ci.ratio
        out["fraction_of_floor_ci"] = ci.as_dict()
        out["floor_files_per_s_median"] = floor_rec["files_per_s_median"]
    return out


def soak_record(intervals: list[dict] | None) -> dict | None:
    """The soak's verdict and its per-interval series (t: seconds after the first
    interval ended)."""
    if not intervals:
        return None
    t0 = intervals[0]["t"]
    rows = [{**r, "t": r["t"] - t0} for r in intervals]
    return {**soak.assess(rows), "series": rows}


def latency_summary(ctx) -> dict:
    """p50/p90/p99/max of open, read, close, hash, count over the timed repeats' tasks."""
    return latency.summary(*ctx.latency)


def interference(sampler, records: list[dict], cpus: int) -> dict:
    """What else used the CPU over the timed repeats (first start to last stop)."""
    timed = [r for r in records if not r["warmup"]]
    if not timed:
        return monitor.interference(sampler.frame().iloc[0:0], 0, 0, cpus)
    return monitor.interference(sampler.frame(), timed[0]["start"], timed[-1]["stop"], cpus)


def median_of(values) -> dict | None:
    return median_ci(values).as_dict() if values else None
