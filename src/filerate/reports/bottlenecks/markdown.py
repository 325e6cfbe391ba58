"""The bottleneck report (``analyse``'s dict) as Markdown for people."""

from __future__ import annotations

from filerate import fmt
from filerate.reports import measured
from filerate.reports.bottlenecks import story
from filerate.reports.bottlenecks.predictions import gain_text, predicted_text, range_text
from filerate.reports.storage import headline


def _md(text) -> str:
    """Text safe inside a Markdown table cell or list item."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _summary(report: dict) -> list[str]:
    out = [
        "# Bottlenecks",
        "",
        *_break_even(report),
        f"Baseline: **{_md(report['baseline'])}**. For each phase: what limits files/s in "
        "the timed repeats and the next change that can move it; apart from that, the "
        "set-up of one real pass (staging + cluster start-up + kernel warm-up, wall "
        "seconds) before one timed repeat. Definitions and rules: docs/BOTTLENECKS.md.",
        "",
        "| phase | files/s (median [95 % CI]) | what limits files/s | next change for files/s "
        "| set-up + one timed repeat |",
        "|---|--:|---|---|---|",
    ]
    for ph in report["phases"]:
        m = ph.get("measurement")
        fps = fmt.num(ph["files_per_s_median"])
        if m:
            fps = measured.ci_text({**m, "stability": "stable" if m["stable"] else "unstable"})
        out.append(
            f"| {_md(ph['phase'])} | {fps} | "
            f"{_md(story.files_per_s_limit(ph))} | "
            f"{_md(story.files_per_s_change(ph).get('change'))} | "
            f"{_md(story.setup_text(ph))} |"
        )
    return out


def _break_even(report: dict) -> list[str]:
    """This machine's answer to "does the RAM disk help, and from which pass on", first."""
    return [f"**{_md(headline(rec))}**" for rec in report.get("break_even") or []] + (
        [""] if report.get("break_even") else []
    )


def _setup(ph: dict) -> list[str]:
    out = ["", f"## {_md(ph['phase'])}: files/s limited by {_md(story.files_per_s_limit(ph))}", ""]
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
    out = ["| set-up, then one timed repeat | wall seconds |", "|---|--:|"]
    out += [f"| {_md(label)} | {fmt.seconds(s)} |" for label, s in story.setup_parts(ph)]
    out.append(f"| **end to end** | **{fmt.seconds(ph['end_to_end_s'])}** |")
    return [*out, "", *(part for line in story.repeat_lines(ph) for part in (line, ""))]


def _utilisation(ph: dict) -> list[str]:
    return [story.utilisation_text(ph), ""]


def _next_change(ph: dict) -> list[str]:
    rec = story.files_per_s_change(ph)
    out = [
        f"**Next change for files/s:** {_md(rec.get('change'))}. "
        f"**Expected:** {_md(rec.get('expected'))}.",
        "",
    ]
    setup = story.setup_change(ph)
    if setup:
        out += [
            f"**Set-up, apart:** {_md(ph['limit'])} dominates end to end: "
            f"{_md(setup['change'])}. **Expected:** {_md(setup['expected'])}.",
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
            f"{predicted_text(t['predicted_pct'])} | {fmt.pct(t['measured_pct'], 0, True)}"
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
