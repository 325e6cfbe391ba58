"""The bottleneck report (``analyse``'s dict) as Markdown for people."""

from __future__ import annotations

from filerate.reports import measured
from filerate.reports.bottlenecks.predictions import gain_text, predicted_text, range_text
from filerate.reports.load import fmt_num, fmt_pct
from filerate.reports.storage import headline


def _md(text) -> str:
    """Text safe inside a Markdown table cell or list item."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _summary(report: dict) -> list[str]:
    out = [
        "# Bottlenecks",
        "",
        *_break_even(report),
        f"Baseline: **{_md(report['baseline'])}**. Each phase's time is one end-to-end "
        "pass: staging + cluster start-up + one timed repeat (mean over the timed "
        "repeats). Definitions and rules: `filerate.reports.bottlenecks` docstring.",
        "",
        "| phase | files/s (median [95 % CI]) | limiting resource | limits files/s | next change |",
        "|---|--:|---|---|---|",
    ]
    for ph in report["phases"]:
        m = ph.get("measurement")
        fps = fmt_num(ph["files_per_s_median"])
        if m:
            fps = measured.ci_text({**m, "stability": "stable" if m["stable"] else "unstable"})
        out.append(
            f"| {_md(ph['phase'])} | {fps} | "
            f"{_md(ph['limit'])} | {_md(ph['processing_limit'])} | "
            f"{_md(ph['recommendation']['change'])} |"
        )
    return out


def _break_even(report: dict) -> list[str]:
    """This machine's answer to "does the RAM disk help, and from which pass on", first."""
    return [f"**{_md(headline(rec))}**" for rec in report.get("break_even") or []] + (
        [""] if report.get("break_even") else []
    )


def _setup(ph: dict) -> list[str]:
    out = ["", f"## {_md(ph['phase'])}: {_md(ph['limit'])}", ""]
    if ph["processing_limit"] != ph["limit"]:
        out += [f"Processing itself is limited by: **{_md(ph['processing_limit'])}**.", ""]
    out += [
        f"{ph['backend']} backend, {ph['processes']} processes × "
        f"{ph['threads_per_process']} threads = {ph['slots']} slots on "
        f"{ph['cpu_count']} CPUs; batch {ph['batch_size']}; analysis {ph['analysis']}; "
        f"{'staged on the RAM disk' if ph['staged'] else 'read in place'}.",
        "",
    ]
    for w in ph.get("warnings") or []:
        out += [f"> **Warning:** {_md(w)}", ""]
    return out


def _evidence(ph: dict) -> list[str]:
    if not ph["findings"]:
        return []
    out = ["Evidence:", ""]
    out += [f"- **{_md(f['limit'])}**: {_md(f['evidence'])}" for f in ph["findings"]]
    return [*out, ""]


def _breakdown(ph: dict) -> list[str]:
    out = ["| component | seconds | share |", "|---|--:|--:|"]
    for r in ph["breakdown"]:
        out.append(f"| {_md(r['label'])} | {r['seconds']:.4f} | {r['share_pct']:.1f} % |")
    out.append(f"| **end to end (one pass)** | **{ph['end_to_end_s']:.4f}** | **100 %** |")
    return [*out, ""]


def _utilisation(ph: dict) -> list[str]:
    util, tasks = ph["utilisation"], ph["tasks"]
    line = (
        f"Utilisation in the timed repeats: CPU {fmt_pct(util.get('cpu_pct_mean'))} mean, "
        f"{fmt_pct(util.get('cpu_pct_peak'))} peak; "
        f"{tasks['concurrency'] or 0:.1f} tasks at once on average; "
        f"{fmt_num(util.get('ctx_switches_per_s'))} context switches/s; "
        f"{fmt_num(tasks['per_repeat'])} tasks per repeat, median "
        f"{fmt_num((tasks['duration_s_median'] or 0) * 1e3, 1)} ms."
    )
    for g in util.get("gpus") or []:
        line += (
            f" GPU {g['gpu']}: {fmt_pct(g.get('util_pct_mean'))} busy "
            f"(peak {fmt_pct(g.get('util_pct_peak'))}), "
            f"{fmt_num(g.get('temp_c_peak'))} °C peak, "
            f"{fmt_num(g.get('power_w_mean'))} W mean."
        )
    return [line, ""]


def _next_change(ph: dict) -> list[str]:
    rec = ph["recommendation"]
    out = [f"**Next change:** {_md(rec['change'])}. **Expected:** {_md(rec['expected'])}.", ""]
    prec = ph.get("processing_recommendation")
    if prec:
        out += [
            f"**For files/s itself:** {_md(prec['change'])}. "
            f"**Expected:** {_md(prec['expected'])}.",
            "",
        ]
    return out


def _phase(ph: dict) -> list[str]:
    return [
        *_setup(ph),
        *measured.measurement_markdown(ph.get("measurement")),
        *_evidence(ph),
        *_breakdown(ph),
        *_utilisation(ph),
        *_next_change(ph),
    ]


def _prediction_table(tests: list[dict]) -> list[str]:
    out = [
        "| phase | vs | change | predicted | measured [95 % CI] (range) | gain ratio [95 % CI], "
        "paired how | verdict | why |",
        "|---|---|---|--:|--:|--:|---|---|",
    ]
    for t in tests:
        ci = t.get("measured_ci_pct")
        ci_text = f" [{range_text(ci)}]" if ci else ""
        out.append(
            f"| {_md(t['phase'])} | {_md(t['base'])} | {_md(t['description'])} | "
            f"{predicted_text(t['predicted_pct'])} | {fmt_pct(t['measured_pct'], 0, True)}"
            f"{ci_text} ({range_text(t['measured_range_pct'])}) | "
            f"{gain_text(t.get('gain'))} | **{t['verdict']}** | "
            f"{_md(t['reason'])} |"
        )
    return [*out, "", *(f"- {_md(t['text'])}" for t in tests)]


def _predictions(pred: dict) -> list[str]:
    out = ["## The plan's predictions, tested", ""]
    if pred["mode"] == "consecutive":
        out += [
            "No ablation phases were run, so consecutive phases are compared; where "
            "several knobs changed at once no single prediction can be tested (run "
            "with `ablation: true` to test each knob alone).",
            "",
        ]
    else:
        out += ["Each ablation phase changes one knob of its base phase.", ""]
    if pred["tests"]:
        out += _prediction_table(pred["tests"])
    else:
        out.append("Only one phase: nothing to compare.")
    return [*out, ""]


def _ramdisk(comparisons: list[dict]) -> list[str]:
    if not comparisons:
        return []
    out = ["## RAM disk against reading in place", ""]
    out += [f"- **{c['verdict']}**: {_md(c['text'])}" for c in comparisons]
    return [*out, ""]


def to_markdown(report: dict) -> str:
    """The whole report: a summary table, a section per phase, the predictions tested."""
    out = _summary(report)
    for ph in report["phases"]:
        out += _phase(ph)
    out += _predictions(report["predictions"])
    out += _ramdisk(report["ramdisk_comparisons"])
    out += report.get("storage") or []
    return "\n".join(out)
