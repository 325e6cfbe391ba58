"""One bottleneck story per phase, told the same way in the Markdown and the HTML: what
limits files/s (and the next change that can move it), the set-up of one real pass kept
apart (wall seconds), and inside one timed repeat where the task time went (shares of task
time), with the CPUs' idle share rather than idle thread slots."""

from __future__ import annotations

from filerate import fmt
from filerate.reports.bottlenecks.accounting import SETUP

#: the set-up of one real pass, in the order it happens
SETUP_LABELS = {
    "staging": "staging (copy to RAM disk)",
    "startup": "cluster start-up",
    "warmup": "kernel warm-up",
}
#: task-time components that only a GPU run has
DEVICE_COMPONENTS = ("h2d", "d2h")


def files_per_s_limit(ph: dict) -> str:
    """What limits files/s in the timed repeats (never a one-off set-up cost)."""
    return str(ph.get("processing_limit") or ph.get("limit") or "—")


def files_per_s_change(ph: dict) -> dict:
    """The next change that can move this phase's files/s: the advice for the processing
    limit where the end-to-end limit was a set-up cost."""
    return ph.get("processing_recommendation") or ph.get("recommendation") or {}


def setup_change(ph: dict) -> dict | None:
    """Advice for a set-up cost that dominates one real pass, said apart (or None)."""
    return ph.get("recommendation") if ph.get("processing_recommendation") else None


def _seconds(ph: dict) -> dict[str, float]:
    return {r["component"]: float(r["seconds"]) for r in ph.get("breakdown") or []}


def repeat_s(ph: dict) -> float:
    """Wall seconds of one timed repeat (mean)."""
    secs = _seconds(ph)
    return sum(v for k, v in secs.items() if k not in SETUP)


def setup_parts(ph: dict) -> list[tuple[str, float]]:
    """(label, wall seconds) of each set-up cost of one real pass, then the repeat."""
    secs = _seconds(ph)
    parts = [(SETUP_LABELS[k], secs[k]) for k in SETUP if secs.get(k)]
    return [*parts, ("one timed repeat", repeat_s(ph))]


def setup_text(ph: dict) -> str:
    """'staging 3.00 s + cluster start-up 0.75 s + ... + one timed repeat 0.25 s = 6.67 s
    end to end' (a repeat may hold several passes over the corpus)."""
    parts = " + ".join(f"{label} {fmt.seconds(s)}" for label, s in setup_parts(ph))
    return f"{parts} = {fmt.seconds(ph.get('end_to_end_s'))} end to end"


def task_shares(ph: dict) -> list[tuple[str, float]]:
    """(label, % of task time) inside one timed repeat; device transfers only on GPU runs."""
    labels = {r["component"]: r["label"] for r in ph.get("breakdown") or []}
    shares = ph.get("busy_share_pct") or {}
    gpu = ph.get("backend") == "gpu"
    return [
        (labels.get(k, k.replace("_", " ")), float(v))
        for k, v in shares.items()
        if gpu or k not in DEVICE_COMPONENTS
    ]


def cpu_idle_pct(ph: dict) -> float | None:
    """The CPUs' idle share in the timed repeats (100 − mean CPU busy), where sampled."""
    busy = fmt.as_number((ph.get("utilisation") or {}).get("cpu_pct_mean"))
    return None if busy is None else max(0.0, 100.0 - busy)


def repeat_lines(ph: dict) -> list[str]:
    """Inside one timed repeat: the task-time shares, then dispatch overhead and CPUs."""
    shares = ", ".join(f"{label} {fmt.pct(v)}" for label, v in task_shares(ph))
    wall = ph.get("wall_share_pct") or {}
    idle = cpu_idle_pct(ph)
    cpus = (
        f"CPUs {fmt.pct(100 - idle)} busy, {fmt.pct(idle)} idle"
        if idle is not None
        else "CPU use not sampled"
    )
    return [
        f"Task time ({fmt.seconds(repeat_s(ph))} per repeat, shares of time inside tasks): "
        f"{shares or '—'}.",
        f"Between tasks: scheduling and result transfer {fmt.pct(wall.get('scheduling'))} of "
        f"the thread slots' time (threads × wall); {cpus} ({fmt.num(ph.get('cpu_count'))} "
        "CPUs, sampled).",
    ]


def utilisation_text(ph: dict) -> str:
    """One sentence on CPU (and GPU) use in the timed repeats, for the HTML and Markdown."""
    util, tasks = ph.get("utilisation") or {}, ph.get("tasks") or {}
    cpus = f" on {fmt.num(ph['cpu_count'])} CPUs" if ph.get("cpu_count") else " on average"
    line = (
        f"Utilisation in the timed repeats: CPU {fmt.pct(util.get('cpu_pct_mean'))} mean, "
        f"{fmt.pct(util.get('cpu_pct_peak'))} peak; "
        f"{fmt.num(tasks.get('concurrency') or 0, 1)} tasks at once{cpus}; "
        f"{fmt.num(util.get('ctx_switches_per_s'))} context switches/s; "
        f"{fmt.num(tasks.get('per_repeat'))} tasks per repeat, median "
        f"{fmt.num((tasks.get('duration_s_median') or 0) * 1e3, 1)} ms."
    )
    for g in util.get("gpus") or []:
        line += (
            f" GPU {g.get('gpu')}: {fmt.pct(g.get('util_pct_mean'))} busy "
            f"(peak {fmt.pct(g.get('util_pct_peak'))}), "
            f"{fmt.num(g.get('temp_c_peak'))} °C peak, "
            f"{fmt.num(g.get('power_w_mean'))} W mean."
        )
    return line
