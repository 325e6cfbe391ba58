"""The HTML report: one self-contained page for people.

``filerate report --phase-dir DIR [...] --tables throughput.tsv --bottlenecks
bottlenecks.json --plots-dir DIR --out index.html``

The page holds the machine (run.json ``hardware``), each phase's configuration, the
throughput table (from ``filerate tables``), the limiting resource, evidence and next
change per phase and the plan's predictions tested (from ``filerate bottlenecks``), the
plots (also written to ``--plots-dir`` as throughput.png, breakdown.png, timeline.png and
resources.png) and the validation summary of every phase. Images are inlined as base64
``data:`` URIs and the CSS is inline: no external file, font, script or network access
is needed (a Content-Security-Policy forbids any), so the page can be mailed or archived
as one file. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import html
import json
from pathlib import Path

import pandas as pd

from filerate import __version__
from filerate.atomic import write_text
from filerate.errors import UserError
from filerate.reports.load import Phase, as_float, fmt_num, fmt_pct, load_phases
from filerate.reports.plots import make_all
from filerate.reports.tables import (
    files_per_s_text,
    ramdisk_text,
    read_tsv,
    speedup_text,
    target_text,
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:0;color:#1d1d1f;background:#fafafa;line-height:1.45}
main{max-width:1400px;margin:0 auto;padding:1.5rem 2rem 3rem}
h1{font-size:1.7rem;margin:.2rem 0 .3rem}h2{font-size:1.3rem;margin-top:2.2rem;
 border-bottom:2px solid #ddd;padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
p.lead{color:#555;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem;background:#fff}
th,td{border:1px solid #ddd;padding:.3rem .55rem;vertical-align:top;text-align:left}
th{background:#f0f0f3;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.wrap{overflow-x:auto}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c0392b;font-weight:600}
.warn{color:#b26b00;font-weight:600}.muted{color:#777}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.card h3{margin-top:.2rem}
figure{margin:1rem 0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{color:#555;font-size:.85rem;margin-top:.3rem}
code{background:#f0f0f3;padding:0 .2rem;border-radius:3px}
details{margin:.4rem 0}summary{cursor:pointer;color:#333}
nav a{margin-right:1rem}
"""

CAPTIONS = {
    "throughput": "Files/s per phase: median of the timed repeats, whiskers from the slowest "
    "to the fastest repeat. Red lines: each phase's target (dashed: gate). "
    "Hatched bars are unstable: read their range, not the bar.",
    "breakdown": "Left: one end-to-end pass per phase (staging + cluster start-up + one "
    "timed repeat) in seconds. Right: inside one timed repeat, the shares of its wall time "
    "spent reading, computing, in overheads and with idle thread slots.",
    "timeline": "Each task of the median timed repeat on its worker thread, coloured by "
    "where its time went. Empty rows or gaps are idle slots or scheduling "
    "overhead.",
    "resources": "CPU, memory, RAM-disk footprint and (when sampled) GPU utilisation and "
    "temperature over each phase; timed repeats shaded blue, warm-ups grey.",
}


def esc(value) -> str:
    return html.escape("—" if value is None else str(value), quote=True)


def _cls(ok: bool | None) -> str:
    return "ok" if ok is True else ("bad" if ok is False else "muted")


def _table(headers: list[str], rows: list[list], num_cols: set[int] | None = None) -> str:
    """An HTML table; cells are escaped unless given as ('raw', html)."""
    num_cols = num_cols or set()
    out = ['<div class="wrap"><table><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            attr = ' class="num"' if i in num_cols else ""
            if isinstance(cell, tuple) and cell and cell[0] == "raw":
                out.append(f"<td{attr}>{cell[1]}</td>")
            else:
                out.append(f"<td{attr}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _flatten(data, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        for i, v in enumerate(data):
            out += _flatten(v, f"{prefix}[{i}]")
    elif isinstance(data, list):
        out.append((prefix, ", ".join(str(x) for x in data) if data else "—"))
    else:
        out.append((prefix, _human(prefix, data)))
    return out


def _human(key: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("bytes") and value > 2**20:
        return f"{value / 2**30:,.2f} GiB ({int(value):,} bytes)"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _when(ts) -> str:
    f = as_float(ts)
    if f is None:
        return str(ts) if ts else "—"
    return _dt.datetime.fromtimestamp(f, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _bool(value) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    return None


def _count(value) -> int | None:
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    f = as_float(value)
    return None if f is None else int(f)


# ---- sections ---------------------------------------------------------------------


def section_summary(table: list[dict], report: dict) -> str:
    limits = {p["phase"]: p for p in report.get("phases", [])}
    base = table[0]
    rows = []
    for r in table:
        b = limits.get(r["phase"], {})
        rows.append(
            [
                r["phase"],
                files_per_s_text(r),
                speedup_text(r, base),
                ("raw", _target_html(r)),
                b.get("limit"),
                b.get("processing_limit"),
                (b.get("recommendation") or {}).get("change"),
            ]
        )
    return (
        "<h2 id='summary'>Verdicts</h2>"
        "<p>Files/s over the timed repeats: median (min–max), or only the range when "
        "the phase is unstable. The limiting resource (of one end-to-end pass, including "
        "staging and start-up), what limits files/s itself, and the next change come "
        "from the bottleneck analysis below.</p>"
        + _table(
            [
                "phase",
                "files/s",
                "speed-up",
                "target",
                "limiting resource",
                "limits files/s",
                "next change",
            ],
            rows,
            {1, 2},
        )
    )


def _target_html(r: dict) -> str:
    text = esc(target_text(r).replace("**", ""))
    for word, cls in (("missed", "bad"), ("met", "ok")):
        text = text.replace(f": {word}", f': <span class="{cls}">{word}</span>')
    return text


def section_machine(phases: list[Phase]) -> str:
    first = phases[0]
    hw = first.run.get("hardware") or {}
    rows = [[k, v] for k, v in _flatten(hw)] or [["hardware", "not recorded"]]
    out = [
        "<h2 id='machine'>Machine</h2>",
        f"<p>As recorded by phase <code>{esc(first.name)}</code> "
        f"({esc(_when(first.run.get('started_at')))}).</p>",
        _table(["property", "value"], rows),
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
            + _table(["package", "version"], [[k, v] for k, v in _flatten(pk)])
            + "</details>"
        )
    return "".join(out)


def section_config(phases: list[Phase]) -> str:
    rows = []
    for p in phases:
        s, res, be = p.settings, p.resolved, p.run.get("backend") or {}
        corpus = p.run.get("corpus") or {}
        ab = p.ablation
        rows.append(
            [
                p.name,
                f"{corpus.get('name') or s.get('corpus')} ({fmt_num(corpus.get('files'))} files, "
                f"{fmt_num((as_float(corpus.get('bytes')) or 0) / 1e6, 1)} MB)",
                f"{be.get('requested', '—')} → {be.get('used', '—')}"
                + (f": {be['reason']}" if be.get("reason") else ""),
                f"{res.get('expression', s.get('workers'))} = {fmt_num(res.get('workers'))} "
                f"on {fmt_num(res.get('cpu_count'))} CPUs",
                f"{fmt_num(p.processes)} × {fmt_num(p.threads_per_process)} = "
                f"{fmt_num(p.total_threads)}",
                fmt_num(s.get("batch_size")),
                _human("", s.get("gpu_memory_per_worker_gb"))
                + (
                    f" ({_human('', (p.cluster.get('gpu_mapping')))})"
                    if p.cluster.get("gpu_mapping")
                    else ""
                ),
                s.get("analysis"),
                "yes" if p.staged else "no",
                _human("", s.get("ramdisk_budget_gb"))
                + (" GB" if s.get("ramdisk_budget_gb") else ""),
                f"{fmt_num(s.get('warmup'))} + {fmt_num(s.get('repeats'))}",
                fmt_num(s.get("target_files_per_s"))
                + (
                    f" (gate {fmt_num(s.get('gate_files_per_s'))})"
                    if s.get("gate_files_per_s")
                    else ""
                ),
                (
                    f"{ab.get('knob')}: {ab.get('from')} → {ab.get('to')} "
                    f"(of {ab.get('value_of')}, base {ab.get('base')})"
                )
                if ab
                else "—",
            ]
        )
    return (
        "<h2 id='config'>Configuration per phase</h2>"
        "<p>Resolved settings from each phase's run.json; worker expressions are "
        "evaluated with this machine's CPU count.</p>"
        + _table(
            [
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
            ],
            rows,
            {5},
        )
    )


def section_throughput(table: list[dict]) -> str:
    base = table[0]
    rows = []
    for r in table:
        unstable = r.get("stability") == "unstable"
        rows.append(
            [
                r["phase"],
                r.get("backend"),
                fmt_num(r.get("corpus_files")),
                r.get("analysis"),
                "yes" if _bool(r.get("staged")) else "no",
                f"{fmt_num(r.get('processes'))} × {fmt_num(r.get('threads_per_process'))}",
                fmt_num(r.get("batch_size")),
                fmt_num(r.get("repeats")),
                fmt_num(r.get("startup_s"), 2, "s"),
                fmt_num(r.get("staging_s"), 2, "s"),
                fmt_num(r.get("wall_s_median"), 3, "s"),
                (
                    "raw",
                    f"<span class='warn'>{esc(files_per_s_text(r))}</span>"
                    if unstable
                    else esc(files_per_s_text(r)),
                ),
                fmt_num(r.get("mb_per_s_median"), 1),
                fmt_pct(r.get("cv_pct"), 1),
                speedup_text(r, base),
                ("raw", _target_html(r)),
                ramdisk_text(r).replace("**", ""),
                fmt_num(r.get("files_error")),
                fmt_num(r.get("mismatches")),
            ]
        )
    return (
        "<h2 id='throughput'>Throughput</h2>"
        f"<p>Baseline for speed-ups: <code>{esc(base['phase'])}</code>. The full "
        "table with every column is <code>throughput.tsv</code>.</p>"
        + _table(
            [
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
                "CV",
                "speed-up",
                "target",
                "RAM disk",
                "errors",
                "mismatches",
            ],
            rows,
            {2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18},
        )
    )


def section_bottlenecks(report: dict) -> str:
    out = [
        "<h2 id='bottlenecks'>Bottlenecks</h2>",
        "<p>Each phase's end-to-end pass (staging + start-up + one timed repeat) broken "
        "down; the limiting resource is named by the rules documented in "
        "<code>filerate.reports.bottlenecks</code>, with the evidence that triggered it.</p>",
    ]
    for p in report.get("phases", []):
        rec = p.get("recommendation") or {}
        util = p.get("utilisation") or {}
        out.append("<div class='card'>")
        out.append(f"<h3>{esc(p['phase'])}: {esc(p['limit'])}</h3>")
        for w in p.get("warnings") or []:
            out.append(f"<p class='warn'>Warning: {esc(w)}</p>")
        if p.get("processing_limit") and p["processing_limit"] != p["limit"]:
            out.append(
                f"<p>Processing itself is limited by: <b>{esc(p['processing_limit'])}</b>.</p>"
            )
        if p.get("findings"):
            out.append("<ul>")
            for f in p["findings"]:
                out.append(f"<li><b>{esc(f['limit'])}</b>: {esc(f['evidence'])}</li>")
            out.append("</ul>")
        tasks = p.get("tasks") or {}
        line = (
            f"CPU {fmt_pct(util.get('cpu_pct_mean'))} mean, "
            f"{fmt_pct(util.get('cpu_pct_peak'))} peak; "
            f"{(tasks.get('concurrency') or 0):.1f} tasks at once on "
            f"{fmt_num(p.get('cpu_count'))} CPUs; "
            f"{fmt_num(util.get('ctx_switches_per_s'))} context switches/s; "
            f"{fmt_num(tasks.get('per_repeat'))} tasks per repeat, median "
            f"{fmt_num((tasks.get('duration_s_median') or 0) * 1e3, 1)} ms."
        )
        for g in util.get("gpus") or []:
            line += (
                f" GPU {g.get('gpu')}: {fmt_pct(g.get('util_pct_mean'))} busy, "
                f"{fmt_num(g.get('temp_c_peak'))} °C peak."
            )
        out.append(f"<p class='muted'>{esc(line)}</p>")
        out.append(
            f"<p><b>Next change:</b> {esc(rec.get('change'))}. "
            f"<b>Expected:</b> {esc(rec.get('expected'))}.</p>"
        )
        prec = p.get("processing_recommendation")
        if prec:
            out.append(
                f"<p><b>For files/s itself:</b> {esc(prec.get('change'))}. "
                f"<b>Expected:</b> {esc(prec.get('expected'))}.</p>"
            )
        rows = [
            [r["label"], f"{r['seconds']:.4f}", f"{r['share_pct']:.1f} %"]
            for r in p.get("breakdown", [])
        ]
        rows.append(
            [("raw", "<b>end to end (one pass)</b>"), f"{p.get('end_to_end_s', 0):.4f}", "100 %"]
        )
        out.append(
            "<details><summary>Time breakdown</summary>"
            + _table(["component", "seconds", "share"], rows, {1, 2})
            + "</details>"
        )
        out.append("</div>")
    return "".join(out)


def section_predictions(report: dict) -> str:
    pred = report.get("predictions") or {"mode": "consecutive", "tests": []}
    out = ["<h2 id='predictions'>The plan's predictions, tested</h2>"]
    if pred.get("mode") == "ablation":
        out.append("<p>Each ablation phase changes one knob of its base phase.</p>")
    else:
        out.append(
            "<p>No ablation phases: consecutive phases are compared. Where several "
            "knobs changed at once no single prediction can be tested; run with "
            "<code>ablation: true</code> to test each knob alone.</p>"
        )
    rows = []
    for t in pred.get("tests", []):
        v = t.get("verdict", "")
        cls = {"confirmed": "ok", "refuted": "bad", "inconclusive": "warn"}.get(v, "muted")
        p = t.get("predicted_pct")
        ptxt = (
            f"+{p[0]:.0f}–{p[1]:.0f} %"
            if p and p[0] >= 0
            else f"{p[0]:+.0f} to {p[1]:+.0f} %"
            if p
            else "no prediction"
        )
        rng = t.get("measured_range_pct")
        rtxt = f" ({fmt_pct(rng[0], 0, True)} to {fmt_pct(rng[1], 0, True)})" if rng else ""
        rows.append(
            [
                t.get("phase"),
                t.get("base"),
                t.get("description"),
                ptxt,
                fmt_pct(t.get("measured_pct"), 0, True) + rtxt,
                ("raw", f"<span class='{cls}'>{esc(v)}</span>"),
                t.get("reason"),
            ]
        )
    if rows:
        out.append(
            _table(
                [
                    "phase",
                    "compared with",
                    "change",
                    "predicted",
                    "measured (range)",
                    "verdict",
                    "why",
                ],
                rows,
                {3, 4},
            )
        )
    else:
        out.append("<p class='muted'>Only one phase: nothing to compare.</p>")
    comps = report.get("ramdisk_comparisons") or []
    if comps:
        out.append("<h3>RAM disk against reading in place</h3><ul>")
        for c in comps:
            cls = "warn" if "no faster" in c["verdict"] else "ok"
            out.append(f"<li><span class='{cls}'>{esc(c['verdict'])}</span>: {esc(c['text'])}</li>")
        out.append("</ul>")
    return "".join(out)


def section_validation(phases: list[Phase]) -> str:
    rows, details = [], []
    for p in phases:
        v = p.validation
        if not v:
            rows.append(
                [
                    p.name,
                    ("raw", "<span class='muted'>not validated</span>"),
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                    "—",
                ]
            )
            continue
        ok = _bool(v.get("ok"))
        manifest = _count(v.get("manifest_files"))
        files_ok, files_err = _count(v.get("files_ok")), _count(v.get("files_error"))
        accounted = (files_ok or 0) + (files_err or 0)
        acc = f"{accounted:,} of {manifest:,}" if manifest is not None else f"{accounted:,}"
        by_field = v.get("mismatches_by_field") or {}
        errors = v.get("errors_by_reason") or {}
        rows.append(
            [
                p.name,
                ("raw", f"<span class='{_cls(ok)}'>{'ok' if ok else 'FAILED'}</span>"),
                acc,
                fmt_num(files_ok),
                fmt_num(files_err),
                f"{fmt_num(_count(v.get('missing')))} / {fmt_num(_count(v.get('duplicated')))} / "
                f"{fmt_num(_count(v.get('unexpected')))}",
                fmt_num(_count(v.get("mismatches"))),
                ", ".join(f"{k}: {n}" for k, n in by_field.items() if n) or "none",
                ", ".join(f"{k}: {n}" for k, n in errors.items()) or "—",
                _accounted(v.get("repeats_accounted")),
            ]
        )
        examples = list(v.get("examples") or []) + list(v.get("error_examples") or [])
        if examples:
            details.append(
                f"<details><summary>{esc(p.name)}: {len(examples)} example(s)"
                f"</summary><pre>{esc(json.dumps(examples, indent=1)[:20000])}"
                "</pre></details>"
            )
    return (
        "<h2 id='validation'>Validation</h2>"
        "<p>Every file of the manifest must be accounted for (ok or in error with a "
        "reason) and every result must equal the reference implementation's.</p>"
        + _table(
            [
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
            ],
            rows,
            {2, 3, 4, 6, 9},
        )
        + "".join(details)
    )


def _accounted(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return fmt_num(_count(value))


def figure(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f"<figure id='plot-{esc(name)}'><img alt='{esc(name)} plot' "
        f"src='data:image/png;base64,{data}'><figcaption>{esc(CAPTIONS.get(name, ''))}"
        "</figcaption></figure>"
    )


def render(phases: list[Phase], table: pd.DataFrame, report: dict, pngs: dict[str, bytes]) -> str:
    recs = []
    for rec in table.to_dict("records"):
        recs.append({k: (None if (isinstance(v, float) and v != v) else v) for k, v in rec.items()})
    for r in recs:
        r["staged"] = _bool(r.get("staged"))
        r["ramdisk_within_budget"] = _bool(r.get("ramdisk_within_budget"))
    started = min(
        (
            as_float(p.run.get("started_at"))
            for p in phases
            if as_float(p.run.get("started_at")) is not None
        ),
        default=None,
    )
    finished = max(
        (
            as_float(p.run.get("finished_at"))
            for p in phases
            if as_float(p.run.get("finished_at")) is not None
        ),
        default=None,
    )
    names = ", ".join(p.name for p in phases)
    body = [
        "<main>",
        "<h1>filerate: how many files per second, and what limits it</h1>",
        f"<p class='lead'>Phases {esc(names)}; measured {esc(_when(started))} to "
        f"{esc(_when(finished))}; report by filerate {esc(__version__)}.</p>",
        "<nav><a href='#summary'>Verdicts</a><a href='#throughput'>Throughput</a>"
        "<a href='#bottlenecks'>Bottlenecks</a><a href='#predictions'>Predictions</a>"
        "<a href='#plots'>Plots</a><a href='#validation'>Validation</a>"
        "<a href='#machine'>Machine</a><a href='#config'>Configuration</a></nav>",
        section_summary(recs, report),
        figure("throughput", pngs["throughput"]),
        section_throughput(recs),
        section_bottlenecks(report),
        figure("breakdown", pngs["breakdown"]),
        section_predictions(report),
        "<h2 id='plots'>Timelines</h2>",
        figure("timeline", pngs["timeline"]),
        figure("resources", pngs["resources"]),
        section_validation(phases),
        section_machine(phases),
        section_config(phases),
        "</main>",
    ]
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{csp}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>filerate report: {esc(names)}</title><style>{CSS}</style></head>"
        "<body>" + "\n".join(body) + "</body></html>\n"
    )


def _check_same(path, listed: list[str], phases: list[Phase], fix: str) -> None:
    given = [p.name for p in phases]
    if listed != given:
        raise UserError(
            f"{path} covers phases {', '.join(listed) or '(none)'} but --phase-dir "
            f"gives {', '.join(given)}; rerun `{fix}` with the same phases"
        )


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="self-contained HTML report with plots",
        description=(
            "Write one self-contained HTML page (inline CSS and base64 PNG plots, no "
            "network) with the machine, each phase's configuration, the throughput table, "
            "the bottleneck verdicts, the plan's predictions tested, the plots and the "
            "validation summary. The PNGs are also written to --plots-dir."
        ),
    )
    p.add_argument(
        "--phase-dir",
        action="append",
        required=True,
        metavar="DIR",
        help="a phase's results directory (repeat, in the order of the tables)",
    )
    p.add_argument(
        "--tables", required=True, metavar="TSV", help="throughput.tsv written by `filerate tables`"
    )
    p.add_argument(
        "--bottlenecks",
        required=True,
        metavar="JSON",
        help="bottlenecks.json written by `filerate bottlenecks`",
    )
    p.add_argument(
        "--plots-dir",
        required=True,
        metavar="DIR",
        help="directory to write throughput.png, breakdown.png, timeline.png, resources.png into",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    phases = load_phases(args.phase_dir)
    tpath, bpath = Path(args.tables), Path(args.bottlenecks)
    if not tpath.is_file():
        raise UserError(f"{tpath} is missing; run `filerate tables` first")
    if not bpath.is_file():
        raise UserError(f"{bpath} is missing; run `filerate bottlenecks` first")
    try:
        table = read_tsv(tpath)
    except Exception as exc:
        raise UserError(f"cannot read {tpath} as a TSV ({exc}); rerun `filerate tables`") from None
    if "phase" not in table.columns or "files_per_s_median" not in table.columns:
        raise UserError(f"{tpath} is not a filerate throughput table; rerun `filerate tables`")
    table["phase"] = table["phase"].astype(str)
    try:
        report = json.loads(bpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {bpath} ({exc}); rerun `filerate bottlenecks`") from None
    if not isinstance(report, dict) or "phases" not in report:
        raise UserError(
            f"{bpath} is not a filerate bottleneck report; rerun `filerate bottlenecks`"
        )
    _check_same(tpath, list(table["phase"]), phases, "filerate tables")
    _check_same(
        bpath, [str(p.get("phase")) for p in report["phases"]], phases, "filerate bottlenecks"
    )
    pngs = make_all(phases, table, report, args.plots_dir)
    write_text(args.out, render(phases, table, report, pngs))
    return 0
