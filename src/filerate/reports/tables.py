"""Throughput tables: one row per phase, as TSV (for programs) and Markdown (for people).

``filerate tables --phase-dir DIR [--phase-dir DIR ...] --tsv OUT.tsv --md OUT.md``
reads each phase directory's run.json (settings, cluster, staging, repeats, summary),
resources.parquet (RAM-disk use) and validation.json. The first ``--phase-dir`` is the
baseline for speed-ups. Throughput statistics are over the timed repeats only (warm-ups
are excluded). MB are 10^6 bytes.

The columns of throughput.tsv, in order, and their meanings are :data:`GLOSSARY` (an
empty cell means not applicable / not measured). docs/DATA.md and README.md show it as the
Markdown table that ``python -m filerate.reports.tables --glossary`` prints; a test keeps
them equal.
"""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from filerate import fmt
from filerate.atomic import write_text
from filerate.errors import UserError
from filerate.reports import measured, storage, workers
from filerate.reports.glossary import COLUMNS, GLOSSARY, glossary_markdown  # noqa: F401 (re-exported)
from filerate.reports.load import Phase, as_count, as_float, load_phases
from filerate.units import GIB, MB

# decimals written to the TSV per column
_DECIMALS = {
    "corpus_mb": 2,
    "startup_s": 3,
    "staging_s": 3,
    "wall_s_median": 4,
    "files_per_s_median": 3,  # 3, so a figure rounded for people reads the same from any output
    "files_per_s_min": 3,
    "files_per_s_max": 3,
    "mb_per_s_median": 2,
    "resident_pct_max": 1,
    "listing_s": 4,
    "files_per_s_with_listing": 3,
    "cv_pct": 2,
    "speedup_vs_baseline": 3,
    "speedup_min": 3,
    "speedup_max": 3,
    "target_files_per_s": 1,
    "gate_files_per_s": 1,
    "ramdisk_staged_mb": 2,
    "ramdisk_growth_mb": 2,
    "ramdisk_peak_mb": 2,
    "ramdisk_budget_mb": 2,
    "speedup_ci_low": 3,
    "speedup_ci_high": 3,
    **measured.DECIMALS,
}


def stability(cv: float | None, repeats: int, threshold: float) -> str:
    if repeats < 2 or cv is None:
        return "single repeat"
    return "unstable" if cv > threshold else "stable"


def _met(value: float | None, goal: float | None) -> str:
    if goal is None or value is None:
        return ""
    return "met" if value >= goal else "missed"


def _ratio(a, b) -> float | None:
    a, b = as_float(a), as_float(b)
    if a is None or b is None or b == 0:
        return None
    return a / b


def ramdisk(phase: Phase) -> dict:
    """RAM-disk footprint of a phase: staged copy, growth during the run, peak, budget."""
    staged_mb = growth_mb = budget_mb = None
    st = phase.staging or {}
    if phase.staged and as_float(st.get("occupied_bytes")) is not None:
        staged_mb = float(st["occupied_bytes"]) / MB
    res = phase.resources
    if res is not None and "ramdisk_used_bytes" in res.columns:
        used = pd.to_numeric(res["ramdisk_used_bytes"], errors="coerce").dropna()
        if len(used):
            growth_mb = max(0.0, float(used.max() - used.iloc[0])) / MB
    if as_float(st.get("budget_bytes")) is not None:
        budget_mb = float(st["budget_bytes"]) / MB
    elif as_float(phase.settings.get("ramdisk_budget_gb")) is not None:
        budget_mb = float(phase.settings["ramdisk_budget_gb"]) * GIB / MB
    if staged_mb is None and growth_mb is None:
        peak_mb = None
    else:
        peak_mb = (staged_mb or 0.0) + (growth_mb or 0.0)
    within = None
    if budget_mb is not None and peak_mb is not None and (phase.staged or growth_mb):
        within = peak_mb <= budget_mb
    return {
        "ramdisk_staged_mb": staged_mb,
        "ramdisk_growth_mb": growth_mb,
        "ramdisk_peak_mb": peak_mb,
        "ramdisk_budget_mb": budget_mb,
        "ramdisk_within_budget": within,
    }


def devices(phase: Phase) -> str:
    if phase.batches is not None and "device" in phase.batches.columns:
        seen = sorted({str(d) for d in phase.batches["device"].dropna().unique()})
        gpus = [d for d in seen if d.startswith("gpu")]
        if gpus:
            return ", ".join(gpus)
    cpus = phase.cpu_count
    if phase.backend_used == "gpu":
        return "gpu"
    return f"cpu ({cpus} cores)" if cpus else "cpu"


def phase_row(phase: Phase, unstable_cv_pct: float = 10.0) -> dict:
    """One table row (without the speed-up columns, which need the baseline)."""
    s = phase.summary()
    corpus = phase.run.get("corpus") or {}
    val = phase.validation
    target = as_float(phase.settings.get("target_files_per_s"))
    gate = as_float(phase.settings.get("gate_files_per_s"))
    median = as_float(s.get("files_per_s_median"))
    repeats = int(s.get("repeats") or len(phase.repeats()))
    cv = as_float(s.get("files_per_s_cv_pct"))
    row = {
        "phase": phase.name,
        "status": str(phase.run.get("status") or ""),
        "backend": phase.backend_used,
        "devices": devices(phase),
        "corpus": corpus.get("name") or phase.settings.get("corpus"),
        "corpus_files": corpus.get("files"),
        "corpus_mb": (float(corpus["bytes"]) / MB) if as_float(corpus.get("bytes")) else None,
        "analysis": phase.settings.get("analysis"),
        "staged": phase.staged,
        **storage.table_cells(phase.run),
        "cpu_count": phase.cpu_count,
        "processes": phase.processes,
        "threads_per_process": phase.threads_per_process,
        "total_threads": phase.total_threads,
        "batch_size": phase.settings.get("batch_size"),
        "repeats": repeats,
        "startup_s": phase.startup_s,
        "staging_s": phase.staging_s,
        "wall_s_median": as_float(s.get("wall_s_median")),
        "files_per_s_median": median,
        "files_per_s_min": as_float(s.get("files_per_s_min")),
        "files_per_s_max": as_float(s.get("files_per_s_max")),
        "mb_per_s_median": as_float(s.get("mb_per_s_median")),
        "cv_pct": cv,
        "stability": measured.stability(phase, repeats) or stability(cv, repeats, unstable_cv_pct),
        **measured.columns(phase),
        "_values": measured.timed_values(phase),  # for the speed-up's CI; not a column
        "target_files_per_s": target,
        "target_met": _met(median, target),
        "gate_files_per_s": gate,
        "gate_met": _met(median, gate),
        **ramdisk(phase),
        "files_error": as_count(s.get("files_error")),
        "mismatches": as_count(val.get("mismatches")) if val else None,
        "validation_ok": bool(val.get("ok")) if val else None,
    }
    return row


def build_table(phases: list[Phase], unstable_cv_pct: float = 10.0) -> pd.DataFrame:
    """The throughput table; the first phase is the baseline for speed-ups."""
    rows = [phase_row(p, unstable_cv_pct) for p in phases]
    base = rows[0]
    for row in rows:
        row["speedup_vs_baseline"] = _ratio(row["files_per_s_median"], base["files_per_s_median"])
        row["speedup_min"] = _ratio(row["files_per_s_min"], base["files_per_s_max"])
        row["speedup_max"] = _ratio(row["files_per_s_max"], base["files_per_s_min"])
        ci = measured.speedup_ci(row, base)
        row["speedup_ci_low"], row["speedup_ci_high"] = ci
    frame = pd.DataFrame(rows)
    return frame[COLUMNS]


def _tsv_cell(col: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if col in _DECIMALS and isinstance(value, (int, float)):
        return f"{float(value):.{_DECIMALS[col]}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\t", " ").replace("\n", " ")


def to_tsv(frame: pd.DataFrame) -> str:
    lines = ["\t".join(COLUMNS)]
    for rec in frame.to_dict("records"):
        lines.append("\t".join(_tsv_cell(c, _none(rec.get(c))) for c in COLUMNS))
    return "\n".join(lines) + "\n"


def read_tsv(path) -> pd.DataFrame:
    """Read a throughput.tsv back (empty cells become NaN/None)."""
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def _none(value):
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def files_per_s_text(rec: dict) -> str:
    """files/s for people: the median with its range, or only the range when unstable."""
    med, lo, hi = (
        _none(rec.get(k)) for k in ("files_per_s_median", "files_per_s_min", "files_per_s_max")
    )
    if med is None:
        return "—"
    with_ci = measured.ci_text(rec)
    if with_ci:
        return with_ci
    st = rec.get("stability")
    if st == "unstable":
        return f"{fmt.num(lo)}–{fmt.num(hi)} (unstable)"
    if st == "single repeat":
        return f"{fmt.num(med)} (1 run)"
    return f"{fmt.num(med)} ({fmt.num(lo)}–{fmt.num(hi)})"


def comparable(rec: dict, base: dict) -> bool:
    """Like with like: the same corpus (name and files) and analysis level as the baseline."""
    keys = ("corpus", "corpus_files", "analysis")
    return all(_none(rec.get(k)) == _none(base.get(k)) for k in keys)


def speedup_text(rec: dict, base: dict) -> str:
    """The speed-up over the baseline, only where like is compared with like."""
    if rec["phase"] == base["phase"]:
        return "baseline"
    if not comparable(rec, base):
        return "— (other corpus or analysis)"
    med = _none(rec.get("speedup_vs_baseline"))
    if med is None:
        return "—"
    lo, hi = _none(rec.get("speedup_ci_low")), _none(rec.get("speedup_ci_high"))
    if lo is not None and hi is not None:
        return f"{fmt.ratio(med)} [{fmt.num(lo, 2)}–{fmt.num(hi, 2)}]"
    if "unstable" in (rec.get("stability"), base.get("stability")):
        lo, hi = _none(rec.get("speedup_min")), _none(rec.get("speedup_max"))
        if lo is not None and hi is not None:
            return f"{fmt.num(lo, 2)}–{fmt.ratio(hi)}"
    return fmt.ratio(med)


def target_text(rec: dict) -> str:
    parts = []
    for key, label in (("target", ""), ("gate", "gate ")):
        goal = _none(rec.get(f"{key}_files_per_s"))
        if goal is None:
            continue
        verdict = rec.get(f"{key}_met") or ""
        note, lo, hi = "", _none(rec.get("files_per_s_min")), _none(rec.get("files_per_s_max"))
        if _none(rec.get("files_per_s_ci_low")) is not None:  # the CI, where recorded
            lo, hi = rec["files_per_s_ci_low"], rec["files_per_s_ci_high"]
            if lo < goal <= hi:
                note = " (CI straddles it)"
        elif rec.get("stability") == "unstable" and lo is not None and lo < goal <= hi:
            note = " (range straddles it)"
        parts.append(f"{label}{fmt.num(goal)}: **{verdict}**{note}")
    return "; ".join(parts) or "—"


def ramdisk_text(rec: dict) -> str:
    peak, budget = _none(rec.get("ramdisk_peak_mb")), _none(rec.get("ramdisk_budget_mb"))
    if not rec.get("staged") and not peak:
        return "not staged"
    text = fmt.size(peak * MB) if peak is not None else "—"
    if budget is not None:
        ok = rec.get("ramdisk_within_budget")
        verdict = ": within" if ok is True else (": **over**" if ok is False else "")
        text += f" of the {fmt.size(budget * MB)} budget{verdict}"
    return text


def validation_text(rec: dict) -> str:
    ok = _none(rec.get("validation_ok"))
    if ok is None:
        return "not validated"
    return "ok" if ok else "**FAILED**"


def _backend_cell(r: dict) -> str:
    backend = (
        str(r["devices"])
        if str(r["devices"]).startswith(str(r["backend"]))
        else f"{r['backend']}: {r['devices']}"
    )
    if r.get("status") and r["status"] != "ok":
        backend += f" [{r['status']}]"
    return backend


def _throughput_cells(r: dict, base: dict) -> list:
    procs = (
        f"{fmt.num(r['processes'])} × {fmt.num(r['threads_per_process'])}"
        f" = {fmt.num(r['total_threads'])}"
    )
    size = fmt.size(r["corpus_mb"] * MB) if r["corpus_mb"] is not None else "—"
    corpus = f"{r['corpus']} ({fmt.num(r['corpus_files'])} files, {size})"
    return [
        r["phase"],
        _backend_cell(r),
        corpus,
        r["analysis"] or "—",
        ("yes" if r["staged"] else "no") + ("" if r["cache"] == "warm" else f", {r['cache']}"),
        procs,
        fmt.num(r["batch_size"]),
        fmt.num(r["repeats"]),
        files_per_s_text(r),
        fmt.mb_per_s(r["mb_per_s_median"]),
        measured.floor_text(r),
        speedup_text(r, base),
        target_text(r),
        fmt.num(r["files_error"]),
        fmt.num(r["mismatches"]),
    ]


def _setup_cells(r: dict) -> list:
    return [
        r["phase"],
        fmt.seconds(r["startup_s"]),
        fmt.seconds(r["staging_s"]),
        fmt.seconds(r["wall_s_median"]),
        f"{r['stop_reason'] or '—'} ({fmt.pct(r['cv_pct'], 1)} CV)",
        measured.cpu_text(r),
        ramdisk_text(r),
        validation_text(r),
    ]


def _md_row(cells: list) -> str:
    return "| " + " | ".join(_md_cell(c) for c in cells) + " |"


def to_markdown(frame: pd.DataFrame, unstable_cv_pct: float = 10.0, phases=()) -> str:
    recs = [{k: _none(v) for k, v in r.items()} for r in frame.to_dict("records")]
    base = recs[0]
    out = [
        "# Throughput per phase",
        "",
        "Files/s over the timed repeats: median [95 % confidence interval of the median]; "
        "a phase whose interval did not come within its `ci_target_pct` is **unstable** "
        "(runs without intervals: min–max, unstable above "
        f"{unstable_cv_pct:g} % CV). Floor: filerate's fraction of a bare open/read/close "
        "loop over the same files and threads [95 % CI]. Speed-ups are over the baseline "
        f"(**{_md_cell(base['phase'])}**); a target is met when the median reaches it.",
        "",
        "| phase | backend | corpus | analysis | staged | processes × threads | batch "
        "| repeats | files/s | MB/s | of floor | speed-up | target | errors | mismatches |",
        "|---|---|---|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|",
        *(_md_row(_throughput_cells(r, base)) for r in recs),
        "",
        "## Set-up time and RAM disk",
        "",
        "| phase | cluster start-up | staging | wall per repeat (median) | repeats stopped "
        "by | other CPU use | RAM disk (peak of budget) | validation |",
        "|---|--:|--:|--:|---|---|---|---|",
        *(_md_row(_setup_cells(r)) for r in recs),
    ]
    unstable = [r["phase"] for r in recs if r.get("stability") == "unstable"]
    if unstable:
        out += [
            "",
            f"Unstable: {', '.join(unstable)}. Their intervals are wide: see other CPU use, "
            "rerun on a quieter machine or raise max_phase_s before comparing them.",
        ]
    out += measured.latency_markdown(list(phases))
    out += [
        "",
        "Column definitions: docs/DATA.md (throughput.tsv) and README.md. Sizes are decimal: "
        "MB = 10^6 bytes, GB = 10^9 bytes.",
        "",
    ]
    return "\n".join(out)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tables",
        help="throughput table per phase (TSV + Markdown)",
        description=(
            "Summarise each phase's throughput over its timed repeats: files/s median, "
            "min and max, spread, speed-up over the first (baseline) phase, targets met "
            "or missed, RAM-disk peak against budget, errors and mismatches. Writes a "
            "TSV with documented snake_case columns and a Markdown table for people."
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
        "--unstable-cv-pct",
        type=float,
        default=10.0,
        metavar="PCT",
        help="flag a phase as unstable when its files/s coefficient of variation "
        "exceeds PCT (default 10)",
    )
    p.add_argument("--tsv", required=True, metavar="FILE", help="TSV table to write")
    p.add_argument("--md", required=True, metavar="FILE", help="Markdown table to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.unstable_cv_pct >= 0:
        raise UserError(f"--unstable-cv-pct {args.unstable_cv_pct:g}: must be a number >= 0")
    phases = load_phases(args.phase_dir)
    frame = build_table(phases, args.unstable_cv_pct)
    write_text(args.tsv, to_tsv(frame))
    write_text(args.md, to_markdown(frame, args.unstable_cv_pct, phases) + workers.markdown(phases))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m filerate.reports.tables --glossary``: print the column glossary."""
    parser = argparse.ArgumentParser(
        prog="python -m filerate.reports.tables",
        description="Print throughput.tsv's column glossary as a Markdown table.",
    )
    parser.add_argument("--glossary", action="store_true", required=True)
    parser.parse_args(argv)
    sys.stdout.write(glossary_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
