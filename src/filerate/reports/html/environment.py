"""Sections of the page about where and how the phases ran: the machine and each phase's
configuration."""

from __future__ import annotations

import json

from filerate import fmt
from filerate.reports.html.markup import esc, flatten, human, table, when
from filerate.reports.load import Phase

_CONFIG_HEADERS = [
    "phase",
    "corpus",
    "backend (requested → used)",
    "workers",
    "processes × threads",
    "batch",
    "GPU memory / worker (GB)",
    "analysis",
    "staged",
    "RAM-disk budget",
    "warm-up + repeats",
    "target files/s",
    "ablation",
]


def section_machine(phases: list[Phase]) -> str:
    first = phases[0]
    hw = first.run.get("hardware") or {}
    rows = [[k, v] for k, v in flatten(hw)] or [["hardware", "not recorded"]]
    out = [
        "<h2 id='machine'>Machine</h2>",
        f"<p>As recorded by phase <code>{esc(first.name)}</code> "
        f"({esc(when(first.run.get('started_at')))}).</p>",
        table(["property", "value"], rows),
    ]
    differ = [p.name for p in phases[1:] if (p.run.get("hardware") or {}) != hw]
    if differ:
        out.append(
            f"<p class='warn'>Phases {esc(', '.join(differ))} recorded different "
            "hardware: compare them with care.</p>"
        )
    gm = first.run.get("gpu_monitor")
    if gm:
        out.append(
            f"<p>GPU monitoring: {esc(json.dumps(gm) if not isinstance(gm, str) else gm)}</p>"
        )
    pk = first.run.get("packages") or {}
    if pk:
        out.append(
            "<details><summary>Package versions</summary>"
            + table(["package", "version"], [[k, v] for k, v in flatten(pk)])
            + "</details>"
        )
    return "".join(out)


def _config_cells(p: Phase) -> list:
    s, res, be = p.settings, p.resolved, p.run.get("backend") or {}
    corpus = p.run.get("corpus") or {}
    ab = p.ablation
    gpu_mapping = p.cluster.get("gpu_mapping")
    gate = s.get("gate_files_per_s")
    return [
        p.name,
        f"{corpus.get('name') or s.get('corpus')} ({fmt.num(corpus.get('files'))} files, "
        f"{fmt.size(corpus.get('bytes'))})",
        f"{be.get('requested', '—')} → {be.get('used', '—')}"
        + (f": {be['reason']}" if be.get("reason") else ""),
        f"{res.get('expression', s.get('workers'))} = {fmt.num(res.get('workers'))} "
        f"on {fmt.num(res.get('cpu_count'))} CPUs",
        f"{fmt.num(p.processes)} × {fmt.num(p.threads_per_process)} = {fmt.num(p.total_threads)}",
        fmt.num(s.get("batch_size")),
        human("gpu_memory_per_worker_gb", s.get("gpu_memory_per_worker_gb"))
        + (f" ({human('', gpu_mapping)})" if gpu_mapping else ""),
        s.get("analysis"),
        "yes" if p.staged else "no",
        human("ramdisk_budget_gb", s.get("ramdisk_budget_gb")),
        f"{fmt.num(s.get('warmup'))} + {fmt.num(s.get('repeats'))}",
        fmt.num(s.get("target_files_per_s")) + (f" (gate {fmt.num(gate)})" if gate else ""),
        _ablation_text(ab) if ab else "—",
    ]


def _ablation_text(ab: dict) -> str:
    return (
        f"{ab.get('knob')}: {ab.get('from')} → {ab.get('to')} "
        f"(of {ab.get('value_of')}, base {ab.get('base')})"
    )


def section_config(phases: list[Phase]) -> str:
    return (
        "<h2 id='config'>Configuration per phase</h2>"
        "<p>Resolved settings from each phase's run.json; worker expressions are "
        "evaluated with this machine's CPU count.</p>"
        + table(_CONFIG_HEADERS, [_config_cells(p) for p in phases], {5})
    )
