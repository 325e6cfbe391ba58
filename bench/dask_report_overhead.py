"""What `dask_report: true` costs, and proof that it leaves the timed figures alone.

Runs the same CPU phase alternately without and with the report (``--pairs`` times each,
same corpus, read in place from a warm page cache), then prints per run the timed median
files/s and, for the runs with the report, the extra repeat's wall time against the timed
median and the time spent collecting and writing the HTML. Figures go to
--out/dask_report_overhead.{json,md}.

    python bench/dask_report_overhead.py --files 10000 --pairs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from filerate import atomic, corpus
from filerate import config as cfg
from filerate.engine import process


def _settings(args, dask_report: bool) -> dict:
    phase = {
        "corpus": "c",
        "backend": "cpu",
        "workers": args.workers,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "warmup": 1,
        "staging": False,
        "analysis": "light",
        "dask_report": dask_report,
    }
    conf = cfg.validate({"corpora": {"c": {"files": args.files}}, "phases": {"p": phase}})
    return cfg.phases(conf)["p"]


def _one(args, work: Path, dask_report: bool, i: int) -> dict:
    out = work / f"run-{i}-{'report' if dask_report else 'plain'}"
    run = process.run_phase(
        _settings(args, dask_report), str(work / "corpus" / "manifest.parquet"),
        str(work / "corpus" / "files"), None, out,
    )  # fmt: skip
    rep = run["dask_report"] or {}
    return {
        "run": i,
        "dask_report": dask_report,
        "files_per_s_median": run["summary"]["files_per_s_median"],
        "wall_s_median": run["summary"]["wall_s_median"],
        "report_repeat_wall_s": rep.get("repeat_wall_s"),
        "report_slowdown_pct": rep.get("repeat_slowdown_pct"),
        "report_collect_s": rep.get("collect_s"),
        "report_extra_s": rep.get("extra_s"),
        "report_bytes": rep.get("bytes"),
    }


def _formatter(row: dict):
    def f(key: str, fmt: str) -> str:
        return format(row[key], fmt) if row[key] is not None else "—"

    return f


def _markdown(rows: list[dict], args) -> str:
    lines = [
        f"files={args.files}, workers={args.workers}, batch_size={args.batch_size}, "
        f"repeats={args.repeats} (+1 warm-up), analysis light, read in place (warm page cache)",
        "",
        "| run | dask_report | timed median files/s | report repeat s | vs timed median "
        "| collect + write s | extra s in all | report KB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = _formatter(r)
        lines.append(
            f"| {r['run']} | {r['dask_report']} | {r['files_per_s_median']:,.0f} | "
            f"{f('report_repeat_wall_s', '.3f')} | {f('report_slowdown_pct', '+.0f')} % | "
            f"{f('report_collect_s', '.2f')} | {f('report_extra_s', '.2f')} | "
            f"{(r['report_bytes'] or 0) / 1e3:,.0f} |"
        )
    for flag in (False, True):
        fps = [r["files_per_s_median"] for r in rows if r["dask_report"] is flag]
        med = statistics.median(fps)
        lines.append(f"\nmedian over runs, dask_report={flag}: {med:,.0f} files/s")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--out", default="bench/out")
    args = ap.parse_args()
    work = Path(args.out) / "work-dask-report"
    if not (work / "corpus" / "manifest.parquet").is_file():
        corpus.generate("c", {"files": args.files, "seed": 42}, work / "corpus")
    rows = []
    for i in range(args.pairs):
        for flag in (False, True):
            rows.append(_one(args, work, flag, i))
            print(json.dumps(rows[-1]), file=sys.stderr)
    md = _markdown(rows, args)
    atomic.write_json(Path(args.out) / "dask_report_overhead.json", rows)
    atomic.write_text(Path(args.out) / "dask_report_overhead.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
