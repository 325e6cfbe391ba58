"""Sections of the page from the bottleneck analysis: each phase's limit, evidence and next
change, and the plan's predictions tested."""

from __future__ import annotations

from filerate import fmt
from filerate.reports import measured
from filerate.reports.bottlenecks import story
from filerate.reports.bottlenecks.predictions import predicted_text, range_text
from filerate.reports.html.markup import esc, raw, table

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
    return f"<p class='muted'>{esc(story.utilisation_text(p))}</p>"


def _advice(p: dict) -> list[str]:
    rec = story.files_per_s_change(p)
    out = [
        f"<p><b>Next change for files/s:</b> {esc(rec.get('change'))}. "
        f"<b>Expected:</b> {esc(rec.get('expected'))}.</p>"
    ]
    setup = story.setup_change(p)
    if setup:
        out.append(
            f"<p><b>Set-up, apart:</b> {esc(p.get('limit'))} dominates end to end: "
            f"{esc(setup.get('change'))}. <b>Expected:</b> {esc(setup.get('expected'))}.</p>"
        )
    return out


def _breakdown(p: dict) -> str:
    rows = [[label, fmt.seconds(s)] for label, s in story.setup_parts(p)]
    rows.append([raw("<b>end to end</b>"), fmt.seconds(p.get("end_to_end_s"))])
    return (
        "<details><summary>Time breakdown</summary>"
        + table(["set-up, then one timed repeat", "wall seconds"], rows, {1})
        + "".join(f"<p>{esc(line)}</p>" for line in story.repeat_lines(p))
        + "</details>"
    )


def _card(p: dict) -> list[str]:
    out = [
        "<div class='card'>",
        f"<h3>{esc(p['phase'])}: files/s limited by {esc(story.files_per_s_limit(p))}</h3>",
    ]
    out += [f"<p class='warn'>Warning: {esc(w)}</p>" for w in p.get("warnings") or []]
    if p.get("breakdown"):
        out.append(f"<p>Set-up, apart (wall seconds): {esc(story.setup_text(p))}.</p>")
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
        "<p>Per phase: what limits files/s in the timed repeats, named by the rules in "
        "docs/BOTTLENECKS.md with the evidence that triggered it, and the next change that "
        "can move it; the set-up of one real pass (staging, cluster start-up, kernel "
        "warm-up) is said apart, in wall seconds.</p>",
    ]
    for p in report.get("phases", []):
        out += _card(p)
    return "".join(out)


def _prediction_cells(t: dict) -> list:
    v = t.get("verdict", "")
    rng, ci = t.get("measured_range_pct"), t.get("measured_ci_pct")
    measured_text = fmt.pct(t.get("measured_pct"), 0, True)
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
