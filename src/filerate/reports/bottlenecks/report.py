"""The whole bottleneck report as one JSON-serialisable dict: per phase its breakdown,
utilisation, verdict and next change; the plan's predictions tested; the RAM-disk
comparisons; and the definitions and thresholds used."""

from __future__ import annotations

import copy

from filerate import __version__, config
from filerate.engine.disk import CPU_IDLE_BELOW_PCT, DEVICE_BUSY_PCT
from filerate.reports import measured, storage
from filerate.reports.bottlenecks import rules
from filerate.reports.bottlenecks.accounting import phase_breakdown
from filerate.reports.bottlenecks.predictions import RAMDISK_GAIN_PCT, predictions, ramdisk_pairs
from filerate.reports.bottlenecks.recommend import recommend
from filerate.reports.bottlenecks.utilisation import utilisation
from filerate.reports.load import Phase

BREAKDOWN_DEFINITION = (
    "Per timed repeat: slots S = total threads, capacity S*wall; "
    "components = sums of the *_s columns; per-task overhead = busy - "
    "components; scheduling = S*(wall - L) with L the zero-overhead "
    "list-schedule makespan; idle = S*L - busy; divided by S to give "
    "seconds of wall; averaged over timed repeats; staging and start-up "
    "added once; shares are of that end-to-end total."
)

THRESHOLDS = {
    "cpu_saturated_pct": rules.CPU_SATURATED_PCT,
    "oversub_inflation": rules.OVERSUB_INFLATION,
    "ctx_high_per_cpu_s": rules.CTX_HIGH_PER_CPU_S,
    "short_task_s": rules.SHORT_TASK_S,
    "sched_high_pct": rules.SCHED_HIGH_PCT,
    "idle_high_pct": rules.IDLE_HIGH_PCT,
    "read_dominant_pct": rules.READ_DOMINANT_PCT,
    "transfer_dominant_pct": rules.TRANSFER_DOMINANT_PCT,
    "gpu_busy_pct": rules.GPU_BUSY_PCT,
    "gpu_idle_pct": rules.GPU_IDLE_PCT,
    "one_off_dominant_pct": rules.ONE_OFF_DOMINANT_PCT,
    "outside_tasks_fraction": rules.OUTSIDE_TASKS_FRACTION,
    "ramdisk_gain_pct": RAMDISK_GAIN_PCT,
    "device_busy_pct": DEVICE_BUSY_PCT,
    "device_cpu_idle_below_pct": CPU_IDLE_BELOW_PCT,
}


def default_gains() -> dict:
    """The plan's predicted gain per knob: the config schema's default, said only there."""
    schema = config.schema()
    return copy.deepcopy(schema["properties"]["predicted_gains_pct"]["default"])


def _ramdisk_findings(phase: Phase, pairs: list[dict]) -> list[dict]:
    return [
        rules.finding("ramdisk_no_faster", pair["verdict"], pair["text"])
        for pair in pairs
        if pair["staged"] == phase.name and pair["verdict"].endswith("no faster than in place")
    ]


def _tasks(bd: dict) -> dict:
    return {
        "per_repeat": bd["tasks_per_repeat"],
        "duration_s_median": bd["task_s_median"],
        "dispatch_overhead_s_per_task": bd["dispatch_overhead_s_per_task"],
        "in_task_overhead_s_per_task": bd["in_task_overhead_s_per_task"],
        "concurrency": bd["concurrency"],
    }


def _phase_report(ph: Phase, pairs: list[dict]) -> dict:
    bd = phase_breakdown(ph)
    util = utilisation(ph)
    verdict = rules.diagnose(ph, bd, util)
    separate = verdict.processing_rule != verdict.limit_rule
    return {
        "phase": ph.name,
        "backend": ph.backend_used,
        "cpu_count": ph.cpu_count,
        "processes": ph.processes,
        "threads_per_process": ph.threads_per_process,
        "slots": bd["slots"],
        "batch_size": ph.settings.get("batch_size"),
        "analysis": ph.settings.get("analysis"),
        "staged": ph.staged,
        "files_per_s_median": ph.summary().get("files_per_s_median"),
        "limit": verdict.limit,
        "processing_limit": verdict.processing,
        "findings": verdict.findings + _ramdisk_findings(ph, pairs),
        "recommendation": recommend(ph, verdict.limit_rule, bd, util),
        "processing_recommendation": (
            recommend(ph, verdict.processing_rule, bd, util) if separate else None
        ),
        "breakdown": bd["rows"],
        "end_to_end_s": bd["end_to_end_s"],
        "repeat_wall_s_mean": bd["repeat_wall_s_mean"],
        "tasks": _tasks(bd),
        "busy_share_pct": bd["busy_share_pct"],
        "wall_share_pct": bd["wall_share_pct"],
        "utilisation": util,
        "repeats": bd["repeats"],
        "measurement": measured.measurement(ph),
        "warnings": list(ph.notes),
    }


def analyse(phases: list[Phase], gains: dict | None = None) -> dict:
    """The bottleneck report; ``gains`` (knob -> [low, high] %) defaults to the plan's."""
    gains = default_gains() if gains is None else gains
    pairs = ramdisk_pairs(phases)
    return {
        "generated_by": f"filerate {__version__}",
        "baseline": phases[0].name,
        "definitions": {"breakdown": BREAKDOWN_DEFINITION, "thresholds": dict(THRESHOLDS)},
        "predicted_gains_pct": gains,
        "phases": [_phase_report(ph, pairs) for ph in phases],
        "predictions": predictions(phases, gains),
        "ramdisk_comparisons": pairs,
        "break_even": storage.break_evens([ph.run for ph in phases]),
        "storage": storage.section(
            [ph.run for ph in phases], {ph.name: ph.resources for ph in phases}
        ),
    }
