"""The ``filerate`` command line: one sub-command per workflow step.

Each step lives in its own module exposing ``add_parser(subparsers)`` (which registers the
sub-command and sets ``func``). Errors a user can fix are printed as one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from filerate import __version__
from filerate.errors import UserError

# sub-command -> module implementing it, in workflow order
STEPS = {
    "corpus": "filerate.corpus.step",
    "reference": "filerate.corpus.tree",
    "stage": "filerate.stage",
    "process": "filerate.engine.process",
    "interleave": "filerate.engine.group",
    "validate": "filerate.validate",
    "tables": "filerate.reports.tables",
    "bottlenecks": "filerate.reports.bottlenecks",
    "report": "filerate.reports.html",
    "plan": "filerate.plan",
    "history": "filerate.history",
    "compare": "filerate.reports.compare",
    "tune": "filerate.tune.command",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="filerate",
        description=(
            "Measure how many files per second this machine can read and analyse, on CPU "
            "and GPU, and report what limits it. Normally driven by Snakemake "
            "(`snakemake --cores all`); each step can also be run on its own."
        ),
        epilog="Run `filerate STEP --help` for a step's options.",
    )
    parser.add_argument("--version", action="version", version=f"filerate {__version__}")
    sub = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    for module in STEPS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"filerate {args.step}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"filerate {args.step}: interrupted", file=sys.stderr)
        return 130
