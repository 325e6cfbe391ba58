"""The verdict rules: which resource limits a phase, with the evidence for every rule that
matched. The rules and thresholds are described in the package docstring
(``filerate.reports.bottlenecks``); each finding carries a stable rule id (``"read"``,
``"oversubscribed"``, ...) besides its label for people."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from filerate import fmt
from filerate.config import oversubscribed
from filerate.reports import storage
from filerate.reports.bottlenecks.accounting import SETUP
from filerate.reports.load import Phase

CPU_SATURATED_PCT = 80.0
OVERSUB_INFLATION = 1.5
CTX_HIGH_PER_CPU_S = 5_000.0
SHORT_TASK_S = 0.020
DISPATCH_FACTOR = 5.0
SCHED_HIGH_PCT = 30.0
IDLE_HIGH_PCT = 30.0
READ_DOMINANT_PCT = 50.0
TRANSFER_DOMINANT_PCT = 30.0
GPU_BUSY_PCT = 80.0
GPU_IDLE_PCT = 30.0
ONE_OFF_DOMINANT_PCT = 50.0
OUTSIDE_TASKS_FRACTION = 0.5

#: processing rules, most specific first: the first that matched names the limit
PROCESSING_ORDER = (
    "no_tasks",
    "oversubscribed",
    "storage_device",
    "scheduler",
    "outside_tasks",
    "parallelism",
    "transfer",
    "read",
    "gpu_busy",
    "cpu",
    "gpu_idle",
)

#: rules that explain a busy CPU better than "analysis compute" does
_EXPLAINS_BUSY_CPU = ("oversubscribed", "scheduler", "outside_tasks", "read")

#: read rule: what the CPU did during the reads -> (label, why)
READ_CAUSES = {
    "unsampled": (
        "file open/read (CPU use not sampled)",
        "without CPU samples, storage waits and syscall CPU cannot be told apart",
    ),
    "cpu": ("file open/read (CPU in syscalls)", "the CPUs are busy doing the reads"),
    "storage": ("storage I/O", "the CPUs have headroom, so the tasks wait on storage"),
}


def cpu_saturated(cpu_mean: float | None) -> bool:
    return cpu_mean is not None and cpu_mean >= CPU_SATURATED_PCT


def read_cause(cpu_mean: float | None) -> str:
    """Key of :data:`READ_CAUSES` for a phase whose reads dominate."""
    if cpu_mean is None:
        return "unsampled"
    return "cpu" if cpu_saturated(cpu_mean) else "storage"


@dataclass(frozen=True)
class Verdict:
    """The limit of one end-to-end pass and of processing itself, as rule id and label
    (rule id None: no rule matched), and the findings of every rule that matched."""

    limit_rule: str | None
    limit: str
    processing_rule: str | None
    processing: str
    findings: list[dict]


@dataclass(frozen=True)
class _Signals:
    """The measurements the rules compare with their thresholds."""

    cpu_count: int
    threads: int
    procs: int
    cpu_mean: float | None
    cpu_sat: bool
    conc: float
    ctx: float | None
    gpu_util: float | None
    cpu_text: str


def _signals(phase: Phase, bd: dict, util: dict) -> _Signals:
    cpu_mean = util.get("cpu_pct_mean")
    gpu_means = [
        g["util_pct_mean"] for g in util.get("gpus") or [] if g.get("util_pct_mean") is not None
    ]
    return _Signals(
        cpu_count=phase.cpu_count or 1,
        threads=phase.total_threads or 1,
        procs=phase.processes or 1,
        cpu_mean=cpu_mean,
        cpu_sat=cpu_saturated(cpu_mean),
        conc=bd["concurrency"] or 0.0,
        ctx=util.get("ctx_switches_per_s"),
        gpu_util=statistics.fmean(gpu_means) if gpu_means else None,
        cpu_text=f"CPU {fmt.pct(cpu_mean)} busy" if cpu_mean is not None else "CPU use unknown",
    )


def finding(rule: str, limit: str, evidence: str) -> dict:
    """A finding: the rule id, the limit it names (for people) and its evidence."""
    return {"rule": rule, "limit": limit, "evidence": evidence}


# ---- a rule per limit: (signals, breakdown) -> finding or None ---------------------------


def _no_tasks(s: _Signals, bd: dict) -> dict | None:
    if bd["busy_slot_s"]:
        return None
    return finding(
        "no_tasks", "no completed tasks", "no task of a timed repeat returned; see the errors"
    )


def _oversubscribed(s: _Signals, bd: dict) -> dict | None:
    inflation = s.conc / s.cpu_count
    ctx_per_cpu = s.ctx / s.cpu_count if s.ctx is not None else None
    crowded = oversubscribed(s.threads, s.procs, s.cpu_count)
    thrashing = inflation >= OVERSUB_INFLATION or (
        ctx_per_cpu is not None and ctx_per_cpu >= CTX_HIGH_PER_CPU_S
    )
    if not (crowded and s.cpu_sat and thrashing):
        return None
    ev = (
        f"{s.threads} threads in {s.procs} processes on {s.cpu_count} CPUs; {s.cpu_text}; "
        f"{fmt.num(s.conc, 1)} tasks ran at once on average, so each got "
        f"{fmt.num(min(1.0, s.cpu_count / s.conc) if s.conc else 0, 2)} of a core (tasks "
        f"~{fmt.ratio(max(inflation, 1), 1)} slower than on a free core)"
    )
    if s.ctx is not None:
        ev += f"; {fmt.num(s.ctx)} context switches/s ({fmt.num(ctx_per_cpu)} per CPU)"
    return finding("oversubscribed", "CPU (oversubscribed)", ev)


def _scheduler(s: _Signals, bd: dict) -> dict | None:
    med_task, dispatch = bd["task_s_median"], bd["dispatch_overhead_s_per_task"]
    if med_task is None or dispatch is None:
        return None
    wall_share = bd["wall_share_pct"]
    short = med_task < SHORT_TASK_S or med_task < DISPATCH_FACTOR * dispatch
    gaps_dominate = (
        wall_share["scheduling"] >= SCHED_HIGH_PCT and wall_share["scheduling"] > wall_share["busy"]
    )
    if not (short and gaps_dominate):
        return None
    return finding(
        "scheduler",
        "Dask scheduler overhead",
        f"a repeat took {fmt.num(bd['repeat_wall_s_mean'] * 1e3, 1)} ms where an "
        f"overhead-free schedule of the same tasks needs "
        f"{fmt.num(bd['ideal_makespan_s_mean'] * 1e3, 1)} ms: submission, dispatch and "
        f"result transfer take {fmt.pct(wall_share['scheduling'])} of the slots' "
        f"time vs {fmt.pct(wall_share['busy'])} busy; median task "
        f"{fmt.num(med_task * 1e3, 1)} ms, {fmt.num(dispatch * 1e3, 1)} ms of slot time lost per "
        f"task ({bd['tasks_per_repeat']:g} tasks per repeat)",
    )


def _outside_tasks(s: _Signals, bd: dict) -> dict | None:
    if not (s.cpu_sat and bd["busy_slot_s"] and s.conc <= OUTSIDE_TASKS_FRACTION * s.cpu_count):
        return None
    return finding(
        "outside_tasks",
        "CPU outside the tasks (scheduler, client, other processes)",
        f"{s.cpu_text}, but the tasks kept only {fmt.num(s.conc, 1)} of {s.cpu_count} CPUs busy on "
        "average: the rest went to the Dask scheduler, client, result transfer or "
        "other processes",
    )


def _parallelism(s: _Signals, bd: dict) -> dict | None:
    idle = bd["wall_share_pct"]["idle"]
    if not (idle >= IDLE_HIGH_PCT and not s.cpu_sat and bd["busy_slot_s"]):
        return None
    tasks, slots = bd["tasks_per_repeat"], bd["slots"]
    why = (
        f"{tasks:g} tasks per repeat for {slots} thread slots"
        if tasks < slots
        else f"{tasks:g} tasks on {slots} slots leave the last wave short"
    )
    return finding(
        "parallelism",
        "parallelism (batches too large)",
        f"{why}: idle slots {fmt.pct(idle)} of the slots' time; "
        f"{fmt.num(s.conc, 1)} tasks ran at once on {s.cpu_count} CPUs; {s.cpu_text}",
    )


def _transfer(s: _Signals, bd: dict) -> dict | None:
    busy_share = bd["busy_share_pct"]
    transfer = busy_share["h2d"] + busy_share["d2h"]
    if not (transfer >= TRANSFER_DOMINANT_PCT and transfer > busy_share["analyse"]):
        return None
    return finding(
        "transfer",
        "host↔device transfer",
        f"host→device + device→host {fmt.pct(transfer)} of task time vs compute "
        f"{fmt.pct(busy_share['analyse'])}",
    )


def _read(s: _Signals, bd: dict) -> dict | None:
    read = bd["busy_share_pct"]["read"]
    if not (read >= READ_DOMINANT_PCT and bd["busy_slot_s"]):
        return None
    limit, why = READ_CAUSES[read_cause(s.cpu_mean)]
    return finding("read", limit, f"read {fmt.pct(read)} of task time; {s.cpu_text}; {why}")


def _gpu(s: _Signals, bd: dict) -> dict | None:
    if s.gpu_util is None:
        return None
    if s.gpu_util >= GPU_BUSY_PCT:
        return finding(
            "gpu_busy", "GPU compute", f"GPU utilisation {fmt.pct(s.gpu_util)} in the repeats"
        )
    if s.gpu_util < GPU_IDLE_PCT:
        return finding(
            "gpu_idle",
            "GPU idle (host-side overhead)",
            f"GPU utilisation only {fmt.pct(s.gpu_util)} in the repeats: the host side "
            "does not feed it fast enough",
        )
    return None


def _storage_device(phase: Phase) -> dict | None:
    """The block device busy while the CPUs idle, in the timed repeats (disk samples)."""
    device = storage.device_verdict(phase.run, phase.resources)
    if not device or not device["storage_limited"]:
        return None
    return finding("storage_device", "storage device", device["evidence"])


def _cpu_compute(s: _Signals, bd: dict, found: list[dict]) -> dict | None:
    """A busy CPU that no more specific rule explains."""
    if not s.cpu_sat or any(f["rule"] in _EXPLAINS_BUSY_CPU for f in found):
        return None
    busy_share = bd["busy_share_pct"]
    compute = busy_share["hash"] + busy_share["analyse"] + busy_share["pack"]
    return finding(
        "cpu",
        "CPU (analysis compute)",
        f"{s.cpu_text}; hash + analyse + pack {fmt.pct(compute)} of task time",
    )


_RULES = (
    _no_tasks,
    _oversubscribed,
    _scheduler,
    _outside_tasks,
    _parallelism,
    _transfer,
    _read,
    _gpu,
)


# ---- putting them together ----------------------------------------------------------------


def _processing_limit(findings: list[dict], bd: dict) -> tuple[str | None, str]:
    """(rule id, label) of the first matched rule in :data:`PROCESSING_ORDER`; without
    one, "no saturated resource" with the largest share of the repeat."""
    by_rule = {f["rule"]: f for f in findings}
    rule = next((r for r in PROCESSING_ORDER if r in by_rule), None)
    if rule is not None:
        return rule, by_rule[rule]["limit"]
    largest = max(
        (r for r in bd["rows"] if r["component"] not in SETUP),
        key=lambda r: r["seconds"],
        default=None,
    )
    text = "no saturated resource"
    if largest:
        text += f" (largest share: {largest['label']})"
    return None, text


def _one_off(phase: Phase, bd: dict, s: _Signals) -> dict | None:
    """Staging or start-up when it dominates set-up plus one timed repeat (the
    breakdown's end to end: a repeat holds whole passes for at least min_repeat_s)."""
    shares = {r["component"]: r["share_pct"] for r in bd["rows"]}
    pass_s = fmt.num(bd["end_to_end_s"], 2)
    if shares.get("staging", 0) >= ONE_OFF_DOMINANT_PCT:
        return finding(
            "staging",
            "staging (RAM-disk copy)",
            f"staging {fmt.num(phase.staging_s, 2)} s = "
            f"{fmt.pct(shares['staging'])} of set-up + one timed repeat ({pass_s} s)",
        )
    if shares.get("startup", 0) >= ONE_OFF_DOMINANT_PCT:
        return finding(
            "startup",
            "cluster start-up",
            f"cluster start-up {fmt.num(phase.startup_s, 2)} s for "
            f"{s.procs} processes = {fmt.pct(shares['startup'])} of set-up + one "
            f"timed repeat ({pass_s} s)",
        )
    return None


def _outcome(phase: Phase) -> list[dict]:
    """Files in error and a phase that did not finish: evidence, not limits."""
    out = []
    files_error = phase.summary().get("files_error")
    if files_error:
        errs = phase.run.get("errors_by_reason") or {}
        detail = ", ".join(f"{k}: {v}" for k, v in errs.items())
        out.append(
            finding(
                "errors",
                "files in error",
                f"{files_error} files in error" + (f" ({detail})" if detail else ""),
            )
        )
    if phase.run.get("status") not in (None, "ok"):
        out.append(finding("status", "phase did not finish", f"status {phase.run.get('status')!r}"))
    return out


def diagnose(phase: Phase, bd: dict, util: dict) -> Verdict:
    """The phase's limits and findings, by the rules in the package docstring."""
    s = _signals(phase, bd, util)
    findings = [f for rule in _RULES if (f := rule(s, bd)) is not None]
    device = _storage_device(phase)
    if device is not None:
        findings.append(device)
    compute = _cpu_compute(s, bd, findings)
    if compute is not None:
        findings.append(compute)
    processing_rule, processing = _processing_limit(findings, bd)
    limit_rule, limit = processing_rule, processing
    one_off = _one_off(phase, bd, s)
    if one_off is not None:
        findings.insert(0, one_off)
        limit_rule, limit = one_off["rule"], one_off["limit"]
    findings += _outcome(phase)
    return Verdict(limit_rule, limit, processing_rule, processing, findings)
