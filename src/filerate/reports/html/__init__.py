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

The page is built in ``page`` (CSS, section order, inlined plots) from the sections in
``results`` (verdicts, throughput, validation), ``analysis`` (bottlenecks, predictions)
and ``environment`` (machine, configuration), and ``dask`` (each phase's scheduler
address, TLS, dashboard, and a relative link to its dask-report.html, the one thing
the page points to rather than holds), with the helpers of ``markup``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from filerate.atomic import write_text
from filerate.errors import UserError
from filerate.reports.html.page import render
from filerate.reports.load import Phase, load_phases
from filerate.reports.plots import make_all
from filerate.reports.tables import read_tsv


def _check_same(path, listed: list[str], phases: list[Phase], fix: str) -> None:
    given = [p.name for p in phases]
    if listed != given:
        raise UserError(
            f"{path} covers phases {', '.join(listed) or '(none)'} but --phase-dir "
            f"gives {', '.join(given)}; rerun `{fix}` with the same phases"
        )


def _read_table(tpath: Path) -> pd.DataFrame:
    try:
        table = read_tsv(tpath)
    except Exception as exc:
        raise UserError(f"cannot read {tpath} as a TSV ({exc}); rerun `filerate tables`") from None
    if "phase" not in table.columns or "files_per_s_median" not in table.columns:
        raise UserError(f"{tpath} is not a filerate throughput table; rerun `filerate tables`")
    table["phase"] = table["phase"].astype(str)
    return table


def _read_report(bpath: Path) -> dict:
    try:
        report = json.loads(bpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {bpath} ({exc}); rerun `filerate bottlenecks`") from None
    if not isinstance(report, dict) or "phases" not in report:
        raise UserError(
            f"{bpath} is not a filerate bottleneck report; rerun `filerate bottlenecks`"
        )
    return report


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
    p.add_argument(
        "--tune-dir",
        metavar="DIR",
        help="a `filerate tune` result folder to show if it holds one (the workflow passes "
        "results/tune)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    phases = load_phases(args.phase_dir)
    tpath, bpath = Path(args.tables), Path(args.bottlenecks)
    for path, step in ((tpath, "tables"), (bpath, "bottlenecks")):
        if not path.is_file():
            raise UserError(f"{path} is missing; run `filerate {step}` first")
    table = _read_table(tpath)
    report = _read_report(bpath)
    _check_same(tpath, list(table["phase"]), phases, "filerate tables")
    _check_same(
        bpath, [str(p.get("phase")) for p in report["phases"]], phases, "filerate bottlenecks"
    )
    pngs = make_all(phases, table, report, args.plots_dir)
    out_dir = Path(args.out).resolve().parent
    plots_href = Path(os.path.relpath(Path(args.plots_dir).resolve(), out_dir)).as_posix()
    page = render(
        phases,
        table,
        report,
        pngs,
        out_path=args.out,
        plots_href=plots_href,
        tune_dir=args.tune_dir,
    )
    write_text(args.out, page)
    return 0
