"""The ``filerate`` command line: one sub-command per workflow step.

Each step lives in its own module exposing ``add_parser(subparsers)`` (which registers the
sub-command and sets ``func``). Errors a user can fix are printed as one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from filerate import __version__

# sub-command -> module implementing it, in workflow order
STEPS = {
    "corpus": "filerate.corpus",
    "stage": "filerate.stage",
    "process": "filerate.process",
    "validate": "filerate.validate",
    "tables": "filerate.tables",
    "bottlenecks": "filerate.bottlenecks",
    "report": "filerate.report",
    "plan": "filerate.plan",
}


class UserError(Exception):
    """A problem the user can fix; printed as one line without a traceback."""


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
    from filerate.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, ConfigError) as exc:
        print(f"filerate {args.step}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"filerate {args.step}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Under `python -m filerate.cli` this file runs as __main__; import the package's
    # own module so the exceptions other modules raise are the ones caught in main().
    from filerate.cli import main as package_main

    sys.exit(package_main())
