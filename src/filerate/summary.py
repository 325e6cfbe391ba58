"""What `make run` prints at the end: one short table of the phases and where the report
is, called from the Snakefile's ``onsuccess`` handler.

Per phase: the steady files/s (median of the timed repeats, 95 % CI), one real pass
(the corpus over staging + cluster start-up + kernel warm-up + one pass at the median
rate: what a single run of the job would see), whether validation accounted for every
file, and what limits files/s (the bottleneck report's verdict). Then the report's path,
the history entry this run was kept as, and how it compares with the previous one.

It reads the finished tables only, and it must never fail a run that succeeded: any
error prints one line instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from filerate.fmt import MISSING, as_number, num, rate_ci, seconds, short_rate
from filerate.reports.realpass import real_pass

HEADERS = ["phase", "files/s median [95 % CI]", "one real pass", "validated", "files/s limit"]
LIMIT_CHARS = 44


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def one_pass(row: dict, run: dict) -> tuple[float | None, float | None]:
    """(seconds, files/s) of one real pass (filerate.reports.realpass); None, None where
    the run lacks a figure."""
    warmup = (run.get("cluster") or {}).get("kernel_warmup_s")
    rp = real_pass(
        row.get("corpus_files"),
        row.get("files_per_s_median"),
        row.get("staging_s"),
        row.get("startup_s"),
        warmup,
    )
    return (rp["seconds"], rp["files_per_s"]) if rp else (None, None)


def validated_text(row: dict, validation: dict | None = None) -> str:
    """``ok (N files)``, ``not validated`` or ``FAILED: 2 missing, 1 duplicated`` with every
    non-zero count (the table's errors and mismatches, validation.json's missing, duplicated
    and unexpected files): a failure is never shown as ``0 errors, 0 mismatches``."""
    ok, errors = row.get("validation_ok"), as_number(row.get("files_error")) or 0
    mismatches = as_number(row.get("mismatches")) or 0
    files = num(row.get("corpus_files"))
    if ok in (True, "true", "True") and not errors and not mismatches:
        return f"ok ({files} files)"
    if ok is None:
        return "not validated"
    val = validation or {}
    counts = [
        ("errors", errors),
        ("mismatches", mismatches),
        ("missing", as_number(val.get("missing")) or 0),
        ("duplicated", as_number(val.get("duplicated")) or 0),
        ("unexpected", as_number(val.get("unexpected")) or 0),
    ]
    said = ", ".join(f"{num(n)} {label}" for label, n in counts if n)
    return f"FAILED: {said}" if said else "FAILED (a repeat missed files: see validation.json)"


def limit_text(phase: dict) -> str:
    """The bottleneck story's files/s limit (the HTML and Markdown say the same), cut to
    LIMIT_CHARS for the terminal."""
    from filerate.reports.bottlenecks.story import files_per_s_limit  # pandas: lazily

    text = files_per_s_limit(phase)
    return text if len(text) <= LIMIT_CHARS else text[: LIMIT_CHARS - 1] + "…"


def phase_cells(
    row: dict, run: dict, bottleneck: dict, validation: dict | None = None
) -> list[str]:
    total_s, pass_rate = one_pass(row, run)
    real = f"{short_rate(pass_rate)} ({seconds(total_s)})" if total_s else MISSING
    return [
        str(row.get("phase")),
        rate_ci(
            row.get("files_per_s_median"),
            row.get("files_per_s_ci_low"),
            row.get("files_per_s_ci_high"),
        ),
        real,
        validated_text(row, validation),
        limit_text(bottleneck),
    ]


def table_lines(results: Path) -> list[str]:
    from filerate.reports.tables import read_tsv  # pandas: only once the tables exist

    frame = read_tsv(results / "tables" / "throughput.tsv")
    report = _read_json(results / "reports" / "bottlenecks.json")
    limits = {str(p.get("phase")): p for p in report.get("phases") or []}
    body = []
    for rec in frame.to_dict("records"):
        row = {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        name = str(row["phase"])
        run = _read_json(results / "phases" / name / "run.json")
        validation = _read_json(results / "phases" / name / "validation.json")
        body.append(phase_cells(row, run, limits.get(name, {}), validation))
    widths = [max(len(r[i]) for r in [HEADERS, *body]) for i in range(len(HEADERS))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(HEADERS), line(["-" * w for w in widths])] + [line(r) for r in body]


def since_last_run(results: Path) -> str | None:
    """'since the last run (ID): turbo faster (real), ...' or None without a previous run."""
    latest = _read_json(results / "history" / "latest.json")
    if not latest.get("previous"):
        return None
    from filerate.reports import compare, compare_text

    root = results / "history"
    result = compare.compare(
        compare.load_side(root / latest["previous"]), compare.load_side(root / latest["run_id"])
    )
    return (
        f"since the last run ({latest['previous']}): {compare_text.summary_line(result)}; "
        "details: filerate compare"
    )


def lines(results: Path, report: Path) -> list[str]:
    if not (results / "tables" / "throughput.tsv").is_file():
        return []
    out = ["", "filerate: what this machine did", *table_lines(results), ""]
    out.append(f"report: {report}" + ("" if report.is_file() else " (not written)"))
    latest = _read_json(results / "history" / "latest.json")
    if latest.get("path"):
        out.append(f"kept as: {latest['path']}")
    since = since_last_run(results)
    if since:
        out.append(since)
    return out


def print_summary(results: str = "results", report: str = "results/report/index.html") -> None:
    """Print the summary; on any error print one line and carry on (never fail a run)."""
    try:
        text = "\n".join(lines(Path(results), Path(report)))
    except Exception as exc:  # noqa: BLE001 - a summary must never fail the run
        text = f"filerate: no summary ({type(exc).__name__}: {exc}); see {report}"
    if text:
        print(text, file=sys.stdout, flush=True)
