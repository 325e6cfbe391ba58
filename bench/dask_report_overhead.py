"""What `dask_report: true` and `tls: {local: true}` cost, and whether the report
leaves the timed figures alone.

Runs the same CPU phase in turn as each variant (``plain``; ``report``: dask_report;
``tls``: the local cluster over TLS), ``--rounds`` times (same corpus, read in place from a
warm page cache), then prints per run the timed median files/s and, for the runs with the
report, the extra repeat's wall time against the timed median and the time spent
collecting and writing the HTML. Figures go to --out/dask_report_overhead.{json,md}.

    python bench/dask_report_overhead.py --files 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from filerate import atomic, corpus
from filerate import config as cfg
from filerate.engine import process

VARIANTS = {
    "plain": {},
    "report": {"dask_report": True},
    "tls": {"tls": {"local": True}},
}


def _settings(args, variant: str) -> dict:
    phase = {
        "corpus": "c",
        "backend": "cpu",
        "workers": args.workers,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "warmup": 1,
        "staging": False,
        "analysis": "light",
        **VARIANTS[variant],
    }
    conf = cfg.validate({"corpora": {"c": {"files": args.files}}, "phases": {"p": phase}})
    return cfg.phases(conf)["p"]


def _one(args, work: Path, variant: str, i: int) -> dict:
    out = work / f"run-{i}-{variant}"
    run = process.run_phase(
        _settings(args, variant), str(work / "corpus" / "manifest.parquet"),
        str(work / "corpus" / "files"), None, out,
    )  # fmt: skip
    rep = run["dask_report"] or {}
    return {
        "run": i,
        "variant": variant,
        "tls": run["cluster"]["tls"]["mode"],
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
        f"{os.cpu_count()} CPUs; files={args.files}, workers={args.workers}, "
        f"batch_size={args.batch_size}, "
        f"repeats={args.repeats} (+1 warm-up), analysis light, read in place (warm page cache)",
        "",
        "| run | variant | TLS | timed median files/s | report repeat s | vs timed median "
        "| collect + write s | extra s in all | report KB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = _formatter(r)
        lines.append(
            f"| {r['run']} | {r['variant']} | {r['tls']} | {r['files_per_s_median']:,.0f} | "
            f"{f('report_repeat_wall_s', '.3f')} | {f('report_slowdown_pct', '+.0f')} % | "
            f"{f('report_collect_s', '.2f')} | {f('report_extra_s', '.2f')} | "
            f"{(r['report_bytes'] or 0) / 1e3:,.0f} |"
        )
    for variant in dict.fromkeys(r["variant"] for r in rows):
        fps = [r["files_per_s_median"] for r in rows if r["variant"] == variant]
        med = statistics.median(fps)
        lines.append(f"\nmedian over runs, {variant}: {med:,.0f} files/s")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default="plain,report,tls", help="of " + ", ".join(VARIANTS))
    ap.add_argument("--out", default="bench/out")
    args = ap.parse_args()
    work = Path(args.out) / "work-dask-report"
    if not (work / "corpus" / "manifest.parquet").is_file():
        corpus.generate("c", {"files": args.files, "seed": 42}, work / "corpus")
    rows = []
    for i in range(args.rounds):
        for variant in args.variants.split(","):
            rows.append(_one(args, work, variant, i))
            print(json.dumps(rows[-1]), file=sys.stderr)
    md = _markdown(rows, args)
    atomic.write_json(Path(args.out) / "dask_report_overhead.json", rows)
    atomic.write_text(Path(args.out) / "dask_report_overhead.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
