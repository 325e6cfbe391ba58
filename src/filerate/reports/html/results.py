"""Sections of the page about results: the verdicts summary, the throughput table and the
validation of every phase."""

from __future__ import annotations

import json

from filerate import fmt
from filerate.reports import measured
from filerate.reports.bottlenecks import story
from filerate.reports.html.markup import as_bool, esc, ok_class, raw, table
from filerate.reports.load import Phase, as_count
from filerate.reports.tables import (
    files_per_s_text,
    ramdisk_text,
    speedup_text,
    target_text,
)

_SUMMARY_HEADERS = [
    "phase",
    "files/s",
    "speed-up",
    "target",
    "what limits files/s",
    "next change for files/s",
    "set-up, then one timed repeat",
]
_THROUGHPUT_HEADERS = [
    "phase",
    "backend",
    "files",
    "analysis",
    "staged",
    "proc × thr",
    "batch",
    "repeats",
    "start-up",
    "staging",
    "wall (median)",
    "files/s",
    "MB/s",
    "of floor",
    "other CPU",
    "speed-up",
    "target",
    "RAM disk",
    "errors",
    "mismatches",
]
_VALIDATION_HEADERS = [
    "phase",
    "verdict",
    "files accounted",
    "ok",
    "error",
    "missing / duplicated / unexpected",
    "mismatches",
    "mismatches by field",
    "errors by reason",
    "repeats accounted",
]


def target_html(r: dict) -> str:
    """The target (and gate) text with met/missed coloured."""
    text = esc(target_text(r).replace("**", ""))
    for word, cls in (("missed", "bad"), ("met", "ok")):
        text = text.replace(f": {word}", f': <span class="{cls}">{word}</span>')
    return text


def section_summary(rows: list[dict], report: dict) -> str:
    limits = {p["phase"]: p for p in report.get("phases", [])}
    base = rows[0]
    cells = []
    for r in rows:
        b = limits.get(r["phase"], {})
        cells.append(
            [
                r["phase"],
                files_per_s_text(r),
                speedup_text(r, base),
                raw(target_html(r)),
                story.files_per_s_limit(b),
                story.files_per_s_change(b).get("change"),
                story.setup_text(b) if b.get("breakdown") else "—",
            ]
        )
    return (
        "<h2 id='summary'>Verdicts</h2>"
        "<p>Files/s over the timed repeats: median [95 % confidence interval of the "
        "median]; <b>unstable</b> when the interval did not come within the phase's "
        "<code>ci_target_pct</code> (runs without intervals: median (min–max), or only the "
        "range when unstable). Speed-ups only against a baseline with the same corpus and "
        "analysis. What limits files/s and the next change that can move it come from the "
        "bottleneck analysis below; the set-up (staging, start-up, kernel warm-up, in wall "
        "seconds) is kept apart.</p>" + table(_SUMMARY_HEADERS, cells, {1, 2}, stack=True)
    )


def _throughput_cells(r: dict, base: dict) -> list:
    files_per_s = esc(files_per_s_text(r))
    if r.get("stability") == "unstable":
        files_per_s = f"<span class='warn'>{files_per_s}</span>"
    return [
        r["phase"],
        r.get("backend"),
        fmt.num(r.get("corpus_files")),
        r.get("analysis"),
        "yes" if as_bool(r.get("staged")) else "no",
        f"{fmt.num(r.get('processes'))} × {fmt.num(r.get('threads_per_process'))}",
        fmt.num(r.get("batch_size")),
        fmt.num(r.get("repeats")),
        fmt.seconds(r.get("startup_s")),
        fmt.seconds(r.get("staging_s")),
        fmt.seconds(r.get("wall_s_median")),
        raw(files_per_s),
        fmt.mb_per_s(r.get("mb_per_s_median")),
        measured.floor_text(r),
        measured.cpu_text(r),
        speedup_text(r, base),
        raw(target_html(r)),
        ramdisk_text(r).replace("**", ""),
        fmt.num(r.get("files_error")),
        fmt.num(r.get("mismatches")),
    ]


def section_throughput(rows: list[dict]) -> str:
    base = rows[0]
    cells = [_throughput_cells(r, base) for r in rows]
    return (
        "<h2 id='throughput'>Throughput</h2>"
        f"<p>Baseline for speed-ups: <code>{esc(base['phase'])}</code>. The full "
        "table with every column is <code>throughput.tsv</code>.</p>"
        + table(_THROUGHPUT_HEADERS, cells, {2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19})
    )


def _accounted(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return fmt.num(as_count(value))


def _validation_cells(name: str, v: dict | None) -> list:
    if not v:
        return [name, raw("<span class='muted'>not validated</span>"), *["—"] * 8]
    ok = as_bool(v.get("ok"))
    manifest = as_count(v.get("manifest_files"))
    files_ok, files_err = as_count(v.get("files_ok")), as_count(v.get("files_error"))
    accounted = (files_ok or 0) + (files_err or 0)
    acc = fmt.num(accounted) + (f" of {fmt.num(manifest)}" if manifest is not None else "")
    by_field = v.get("mismatches_by_field") or {}
    errors = v.get("errors_by_reason") or {}
    return [
        name,
        raw(f"<span class='{ok_class(ok)}'>{'ok' if ok else 'FAILED'}</span>"),
        acc,
        fmt.num(files_ok),
        fmt.num(files_err),
        f"{fmt.num(as_count(v.get('missing')))} / {fmt.num(as_count(v.get('duplicated')))} / "
        f"{fmt.num(as_count(v.get('unexpected')))}",
        fmt.num(as_count(v.get("mismatches"))),
        ", ".join(f"{k}: {n}" for k, n in by_field.items() if n) or "none",
        ", ".join(f"{k}: {n}" for k, n in errors.items()) or "—",
        _accounted(v.get("repeats_accounted")),
    ]


def _examples(name: str, v: dict | None) -> str:
    examples = list(v.get("examples") or []) + list(v.get("error_examples") or []) if v else []
    if not examples:
        return ""
    return (
        f"<details><summary>{esc(name)}: {len(examples)} example(s)"
        f"</summary><pre>{esc(json.dumps(examples, indent=1)[:20000])}"
        "</pre></details>"
    )


def section_validation(phases: list[Phase]) -> str:
    cells = [_validation_cells(p.name, p.validation) for p in phases]
    return (
        "<h2 id='validation'>Validation</h2>"
        "<p>Every file of the manifest must be accounted for (ok or in error with a "
        "reason) and every result must equal the reference implementation's.</p>"
        + table(_VALIDATION_HEADERS, cells, {2, 3, 4, 6, 9})
        + "".join(_examples(p.name, p.validation) for p in phases)
    )
