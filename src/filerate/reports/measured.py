"""What the repeat rules measured, for the tables: the median's confidence interval and
whether its target was met, the floor and filerate's fraction of it, what else used the
CPU, and latency percentiles per operation (run.json ``summary``, ``floor``,
``latency``; docs/DATA.md). Runs recorded before these existed give empty cells.
"""

from __future__ import annotations

import statistics

from filerate import fmt
from filerate.confidence import ratio_ci
from filerate.engine.records import LATENCY_OPS as OPS
from filerate.reports.load import Phase, as_float
from filerate.stats import timed_files_per_s

#: throughput.tsv columns added here -> meaning (tables.GLOSSARY includes them, the
#: latency columns last)
GLOSSARY = {
    "files_per_s_ci_low": "lower end of the 95 % confidence interval of the median files/s "
    "(order statistics: distribution-free)",
    "files_per_s_ci_high": "upper end of that interval",
    "ci_half_width_pct": "the interval's larger half-width, % of the median",
    "ci_confidence_pct": "the confidence the interval attains, % (below 95 with fewer than "
    "6 repeats: then it is the min–max range)",
    "ci_target_pct": "the phase's `ci_target_pct`: repeats stop once the half-width is within it",
    "stop_reason": "why the repeats stopped: `ci_target`, `max_repeats`, `max_phase_s`, `timeout`",
    "floor_files_per_s_median": "median files/s of the floor: a bare compiled "
    "open/read/close loop over the same files with the same threads, no Dask",
    "fraction_of_floor": "median files/s / the floor's median files/s",
    "fraction_of_floor_ci_low": "95 % bootstrap CI of that ratio, low end",
    "fraction_of_floor_ci_high": "and high end",
    "others_cpu_pct": "CPU used by other processes during the timed repeats, % of all CPUs",
    "steal_pct": "CPU time stolen by the hypervisor during the timed repeats, % of all CPUs",
}
LATENCY_GLOSSARY = {
    f"{op}_p{q}_us": f"{q}th percentile of one file's {op} time in the timed repeats, µs"
    for op in OPS
    for q in (50, 99)
}
DECIMALS = {
    "files_per_s_ci_low": 1,
    "files_per_s_ci_high": 1,
    "ci_half_width_pct": 2,
    "ci_confidence_pct": 1,
    "floor_files_per_s_median": 1,
    "fraction_of_floor": 3,
    "fraction_of_floor_ci_low": 3,
    "fraction_of_floor_ci_high": 3,
    "others_cpu_pct": 1,
    "steal_pct": 2,
    **{f"{op}_p{q}_us": 3 for op in OPS for q in (50, 99)},
}


def columns(phase: Phase) -> dict:
    """The GLOSSARY columns of one phase (None where the run did not record them)."""
    s = phase.summary()
    ci = s.get("files_per_s_ci") or {}
    frac = s.get("fraction_of_floor_ci") or {}
    inter = s.get("interference") or {}
    lat = phase.run.get("latency") or {}
    attained = as_float(ci.get("attained"))
    row = {
        "files_per_s_ci_low": as_float(ci.get("low")),
        "files_per_s_ci_high": as_float(ci.get("high")),
        "ci_half_width_pct": as_float(ci.get("half_width_pct")),
        "ci_confidence_pct": attained * 100 if attained is not None else None,
        "ci_target_pct": as_float(s.get("ci_target_pct")),
        "stop_reason": s.get("stop_reason"),
        "floor_files_per_s_median": as_float(s.get("floor_files_per_s_median")),
        "fraction_of_floor": as_float(s.get("fraction_of_floor")),
        "fraction_of_floor_ci_low": as_float(frac.get("low")),
        "fraction_of_floor_ci_high": as_float(frac.get("high")),
        "others_cpu_pct": as_float(inter.get("others_cpu_pct")),
        "steal_pct": as_float(inter.get("steal_pct")),
    }
    for op in OPS:
        for q in (50, 99):
            row[f"{op}_p{q}_us"] = as_float((lat.get(op) or {}).get(f"p{q}_us"))
    return row


def stability(phase: Phase, repeats: int) -> str | None:
    """``stable`` / ``unstable`` from the CI rule, or None for a run recorded without it."""
    s = phase.summary()
    if "ci_target_reached" not in s:
        return None
    if repeats < 2:
        return "single repeat"
    return "stable" if s["ci_target_reached"] else "unstable"


def timed_values(phase: Phase) -> list[float]:
    """The timed repeats' files/s, 0 included (stats.timed_files_per_s, as compare)."""
    return timed_files_per_s(phase.run)


def speedup_ci(row: dict, base: dict) -> tuple[float | None, float | None]:
    """95 % bootstrap CI of a row's median files/s over the baseline's, from their timed
    repeats; (None, None) unless both runs recorded CIs (older runs keep min–max)."""
    values, base_values = row["_values"], base["_values"]
    recorded = row["files_per_s_ci_low"] is not None and base["files_per_s_ci_low"] is not None
    if not recorded or not values or not base_values or not statistics.median(base_values):
        return None, None
    ci = ratio_ci(values, base_values)
    return ci.low, ci.high


def ci_text(rec: dict) -> str | None:
    """``median [low–high]`` where the run recorded a CI, else None."""
    low, high = rec.get("files_per_s_ci_low"), rec.get("files_per_s_ci_high")
    if low is None or high is None or rec.get("files_per_s_median") is None:
        return None
    text = f"{fmt.num(rec['files_per_s_median'])} [{fmt.num(low)}–{fmt.num(high)}]"
    if rec.get("stability") == "unstable":
        text += " (unstable)"
    return text


def floor_text(rec: dict) -> str:
    frac = rec.get("fraction_of_floor")
    if frac is None:
        return "—"
    lo, hi = rec.get("fraction_of_floor_ci_low"), rec.get("fraction_of_floor_ci_high")
    ci = f" {fmt.interval(lo, hi, 2)}" if lo is not None and hi is not None else ""
    return f"{fmt.num(frac, 2)}{ci} of {fmt.num(rec.get('floor_files_per_s_median'))}"


def cpu_text(rec: dict) -> str:
    others, steal = rec.get("others_cpu_pct"), rec.get("steal_pct")
    if others is None:
        return "—"
    return f"{fmt.pct(others)} others, {fmt.pct(steal or 0, 1)} steal"


def latency_markdown(phases: list[Phase]) -> list[str]:
    """A Markdown section: p50 / p90 / p99 / max per operation and phase, in µs."""
    rows = []
    for p in phases:
        lat = p.run.get("latency") or {}
        for op in OPS:
            v = lat.get(op)
            if not v:
                continue
            cells = [fmt.num(v.get(k), 1) for k in ("p50_us", "p90_us", "p99_us", "max_us")]
            rows.append(
                f"| {p.name} | {op} | {fmt.num(v.get('count'))} | " + " | ".join(cells) + " |"
            )
    if not rows:
        return []
    return [
        "",
        "## Latency per operation (timed repeats, µs)",
        "",
        "One file's open, read, close, hash and count, timed inside the compiled reader "
        "(log-spaced buckets ~9 % wide: percentiles within ±4.5 %; max exact).",
        "",
        "| phase | operation | files | p50 | p90 | p99 | max |",
        "|---|---|--:|--:|--:|--:|--:|",
        *rows,
    ]


def measurement(phase: Phase) -> dict | None:
    """How sure the phase's median is and what disturbed it, for the bottleneck report:
    None for runs recorded before confidence intervals."""
    s = phase.summary()
    if "files_per_s_ci" not in s:
        return None
    reps = phase.repeats()
    lat = phase.run.get("latency") or {}
    return {
        **columns(phase),
        "files_per_s_median": as_float(s.get("files_per_s_median")),
        "repeats": len(reps),
        "passes": sum(int(r.get("passes") or 1) for r in reps),
        "min_repeat_s": as_float(s.get("min_repeat_s")),
        "stable": bool(s.get("ci_target_reached")),
        "latency": {op: lat[op] for op in OPS if lat.get(op)},
    }


def measurement_markdown(m: dict | None) -> list[str]:
    """The bottleneck report's paragraph on how sure the median is."""
    if not m:
        return []
    rec = {**m, "stability": "stable"}  # said once, in front, when unstable
    others, steal = m.get("others_cpu_pct"), m.get("steal_pct")
    cpu = (
        f" Meanwhile other processes used {fmt.pct(others)} of the CPU and "
        f"{fmt.pct(steal or 0, 1)} was stolen by the hypervisor."
        if others is not None
        else ""
    )
    if m["passes"] == m["repeats"]:  # evicted or checked before each: one pass per repeat
        repeats = f"{m['repeats']} repeats of one pass each"
    else:
        repeats = (
            f"{m['repeats']} repeats of at least {fmt.num(m['min_repeat_s'], 1)} s "
            f"({m['passes']} whole passes)"
        )
    text = (
        f"Measured: {ci_text(rec)} files/s over {repeats}, stopped by "
        f"{m['stop_reason']}; the CI is ±{fmt.num(m['ci_half_width_pct'], 1)} % against a "
        f"target of ±{fmt.num(m['ci_target_pct'], 1)} %.{cpu} Floor: {floor_text(rec)} "
        "files/s."
    )
    if not m["stable"]:
        text = "**Unstable.** " + text
    lat = m["latency"]
    if lat:
        parts = [
            f"{op} {fmt.num(v['p50_us'], 1)}/{fmt.num(v['p99_us'], 1)} µs" for op, v in lat.items()
        ]
        text += " Latency per file, p50/p99: " + ", ".join(parts) + "."
    return [text, ""]
