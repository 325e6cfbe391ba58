"""`filerate plan`: show the phases a config resolves to on this machine (runs nothing)."""

from __future__ import annotations

import argparse
import json
import sys

from filerate import config as cfg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="validate a config and show each phase's resolved settings",
        description=(
            "Validate --config and print each phase with its worker expression resolved "
            "for this machine (processes x threads), batch size, analysis and staging. "
            "Nothing is run."
        ),
    )
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument(
        "--cpu-count",
        type=int,
        default=None,
        help="resolve for this many CPUs instead of this machine's",
    )
    p.add_argument("--json", action="store_true", help="print the full settings as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    config = cfg.load(args.config)
    phases = cfg.phases(config, args.cpu_count)
    if args.json:
        print(json.dumps(phases, indent=2))
    else:
        _print_table(phases)
    for name, p in phases.items():
        # a cold phase that stages reads the RAM-disk copy: no storage queue to fill
        from_storage = p.get("cache") == "cold" and not p.get("staging")
        warning = cfg.oversubscription_warning(p["resolved"], cold=from_storage)
        if warning:
            print(f"filerate plan: warning: phase {name}: {warning}", file=sys.stderr)
    return 0


def _print_table(phases: dict) -> None:
    print(
        f"{'phase':28} {'corpus':8} {'workers':>20} {'procs x thr':>12} {'batch':>6} "
        f"{'analysis':8} {'staged':6} {'target':>8}"
    )
    for name, p in phases.items():
        r = p["resolved"]
        print(
            f"{name:28} {p['corpus']:8} {r['expression'] + ' = ' + str(r['workers']):>20} "
            f"{str(r['processes']) + ' x ' + str(r['threads_per_process']):>12} "
            f"{p['batch_size']:>6} {p['analysis']:8} {str(p['staging']):6} "
            f"{p['target_files_per_s'] or '-':>8}"
        )
