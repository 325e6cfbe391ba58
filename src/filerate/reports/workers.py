"""The per-worker spread of each phase, for throughput.md (IO500's stonewall view).

From run.json ``repeats[].per_worker`` (filerate.engine.worker_stats), taken from the
median timed repeat: how fast the slowest and the fastest worker went on their own, when
the first worker ran out of work (stonewall), when the last finished, and the files/s
before the stonewall (every worker busy) next to the aggregate over the whole repeat.
Phases whose run.json has no per-worker record (older runs) or one worker are left out.
"""

from __future__ import annotations

from filerate import fmt
from filerate.reports.load import Phase


def median_repeat(phase: Phase) -> dict | None:
    """The timed repeat with the median files/s that has a per-worker record."""
    timed = [
        r
        for r in phase.run.get("repeats") or ()
        if not r.get("warmup") and (r.get("per_worker") or {}).get("workers")
    ]
    if not timed:
        return None
    timed.sort(key=lambda r: r.get("files_per_s") or 0.0)
    return timed[(len(timed) - 1) // 2]


def markdown(phases: list[Phase]) -> str:
    """A Markdown section (empty when no phase has two or more workers)."""
    rows = []
    for phase in phases:
        rep = median_repeat(phase)
        if rep is None or len(rep["per_worker"]["workers"]) < 2:
            continue
        pw = rep["per_worker"]
        cells = [
            phase.name,
            fmt.num(len(pw["workers"])),
            f"{fmt.num(pw['worker_files_per_s_min'])}–{fmt.num(pw['worker_files_per_s_max'])}",
            fmt.num(pw["stonewall_s"], 3, "s"),
            fmt.num(pw["last_done_s"], 3, "s"),
            fmt.num(pw["spread_s"], 3, "s"),
            fmt.num(pw["stonewall_files_per_s"]),
            fmt.num(pw["files_per_s"]),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    if not rows:
        return ""
    head = [
        "",
        "## Per-worker spread (stonewall view)",
        "",
        "From each phase's median timed repeat; times are seconds after the first submit. "
        "Each worker's files/s is its files ÷ the moment its last batch finished; the "
        "stonewall is when the first worker ran out of work; the spread is how long the "
        "others went on after it. Aggregate = all files ÷ the last worker's finish.",
        "",
        "| phase | workers | files/s per worker (min–max) | stonewall | last done | spread "
        "| files/s to stonewall | aggregate files/s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    return "\n".join(head + rows) + "\n"
