"""Sections of the page from the bottleneck analysis: each phase's limit, evidence and next
change, and the plan's predictions tested."""

from __future__ import annotations

from filerate.reports import measured
from filerate.reports.bottlenecks.predictions import predicted_text, range_text
from filerate.reports.html.markup import esc, raw, table
from filerate.reports.load import fmt_num, fmt_pct

_VERDICT_CLASS = {"confirmed": "ok", "refuted": "bad", "inconclusive": "warn"}
_PREDICTION_HEADERS = [
    "phase",
    "compared with",
    "change",
    "predicted",
    "measured [95 % CI] (range)",
    "verdict",
    "why",
]


def _utilisation_line(p: dict) -> str:
    util, tasks = p.get("utilisation") or {}, p.get("tasks") or {}
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
    return f"<p class='muted'>{esc(line)}</p>"


def _advice(p: dict) -> list[str]:
    rec = p.get("recommendation") or {}
    out = [
        f"<p><b>Next change:</b> {esc(rec.get('change'))}. "
        f"<b>Expected:</b> {esc(rec.get('expected'))}.</p>"
    ]
    prec = p.get("processing_recommendation")
    if prec:
        out.append(
            f"<p><b>For files/s itself:</b> {esc(prec.get('change'))}. "
            f"<b>Expected:</b> {esc(prec.get('expected'))}.</p>"
        )
    return out


def _breakdown(p: dict) -> str:
    rows = [
        [r["label"], f"{r['seconds']:.4f}", f"{r['share_pct']:.1f} %"]
        for r in p.get("breakdown", [])
    ]
    rows.append([raw("<b>end to end (one pass)</b>"), f"{p.get('end_to_end_s', 0):.4f}", "100 %"])
    return (
        "<details><summary>Time breakdown</summary>"
        + table(["component", "seconds", "share"], rows, {1, 2})
        + "</details>"
    )


def _card(p: dict) -> list[str]:
    out = ["<div class='card'>", f"<h3>{esc(p['phase'])}: {esc(p['limit'])}</h3>"]
    out += [f"<p class='warn'>Warning: {esc(w)}</p>" for w in p.get("warnings") or []]
    if p.get("processing_limit") and p["processing_limit"] != p["limit"]:
        out.append(f"<p>Processing itself is limited by: <b>{esc(p['processing_limit'])}</b>.</p>")
    if p.get("findings"):
        out.append("<ul>")
        out += [f"<li><b>{esc(f['limit'])}</b>: {esc(f['evidence'])}</li>" for f in p["findings"]]
        out.append("</ul>")
    measured_lines = measured.measurement_markdown(p.get("measurement"))
    if measured_lines:
        cls = "" if p["measurement"]["stable"] else " class='warn'"
        out.append(f"<p{cls}>{esc(measured_lines[0].replace('**', ''))}</p>")
    return [*out, _utilisation_line(p), *_advice(p), _breakdown(p), "</div>"]


def section_bottlenecks(report: dict) -> str:
    out = [
        "<h2 id='bottlenecks'>Bottlenecks</h2>",
        "<p>Each phase's end-to-end pass (staging + start-up + one timed repeat) broken "
        "down; the limiting resource is named by the rules documented in "
        "<code>filerate.reports.bottlenecks</code>, with the evidence that triggered it.</p>",
    ]
    for p in report.get("phases", []):
        out += _card(p)
    return "".join(out)


def _prediction_cells(t: dict) -> list:
    v = t.get("verdict", "")
    rng, ci = t.get("measured_range_pct"), t.get("measured_ci_pct")
    measured_text = fmt_pct(t.get("measured_pct"), 0, True)
    measured_text += (f" [{range_text(ci)}]" if ci else "") + (
        f" ({range_text(rng)})" if rng else ""
    )
    return [
        t.get("phase"),
        t.get("base"),
        t.get("description"),
        predicted_text(t.get("predicted_pct") or None),
        measured_text,
        raw(f"<span class='{_VERDICT_CLASS.get(v, 'muted')}'>{esc(v)}</span>"),
        t.get("reason"),
    ]


def _ramdisk(comps: list[dict]) -> list[str]:
    if not comps:
        return []
    out = ["<h3>RAM disk against reading in place</h3><ul>"]
    for c in comps:
        cls = "warn" if "no faster" in c["verdict"] else "ok"
        out.append(f"<li><span class='{cls}'>{esc(c['verdict'])}</span>: {esc(c['text'])}</li>")
    return [*out, "</ul>"]


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
    rows = [_prediction_cells(t) for t in pred.get("tests", [])]
    if rows:
        out.append(table(_PREDICTION_HEADERS, rows, {3, 4}))
    else:
        out.append("<p class='muted'>Only one phase: nothing to compare.</p>")
    out += _ramdisk(report.get("ramdisk_comparisons") or [])
    return "".join(out)
