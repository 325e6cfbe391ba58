"""``filerate bottlenecks``: the sub-command that writes bottlenecks.md and .json."""

from __future__ import annotations

import argparse
import json

from filerate.atomic import write_json, write_text
from filerate.errors import UserError
from filerate.reports.bottlenecks.markdown import to_markdown
from filerate.reports.bottlenecks.report import analyse, default_gains
from filerate.reports.load import load_phases, require


def _gain_range(knob, value) -> list[float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise UserError(f"--predicted-gains: {knob} = {value!r}: must be [low, high] in percent")
    lo, hi = sorted(float(v) for v in value)
    return [lo, hi]


def parse_gains(text: str | None) -> dict:
    """``--predicted-gains`` JSON as knob -> [low, high] percent; None: the plan's."""
    if text is None:
        return default_gains()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"--predicted-gains is not valid JSON ({exc.msg}); give e.g. "
            "'{\"workers\":[150,200]}'"
        ) from None
    if not isinstance(data, dict):
        raise UserError("--predicted-gains must be a JSON object: knob -> [low, high] percent")
    return {str(knob): _gain_range(knob, value) for knob, value in data.items()}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bottlenecks",
        help="where each phase's time goes, what limits it, and the plan's predictions tested",
        description=(
            "Break each phase's end-to-end time into staging, start-up, read, hash, "
            "transfers, compute, pack, per-task and scheduling overhead and idle slots; "
            "name the limiting resource with evidence; recommend the next change; and "
            "compare the plan's predicted gain per knob with the measured change."
        ),
    )
    p.add_argument(
        "--phase-dir",
        action="append",
        required=True,
        metavar="DIR",
        help="a phase's results directory (repeat; the first is the baseline)",
    )
    p.add_argument(
        "--predicted-gains",
        metavar="JSON",
        default=None,
        help="the plan's predicted gain per knob in percent, e.g. "
        '\'{"workers":[150,200],"batch_size":[100,150]}\' '
        "(default: the plan's own numbers)",
    )
    p.add_argument("--md", required=True, metavar="FILE", help="Markdown report to write")
    p.add_argument("--json", required=True, metavar="FILE", help="JSON report to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    gains = parse_gains(args.predicted_gains)
    phases = load_phases(args.phase_dir)
    for ph in phases:
        require(ph, "batches")
        require(ph, "resources")
    report = analyse(phases, gains)
    write_json(args.json, report)
    write_text(args.md, to_markdown(report))
    return 0
