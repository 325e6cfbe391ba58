"""CPU against GPU, phase by phase, on this machine: one table of measured files/s.

For each phase of the config it runs the phase as planned on the CPU backend and on the
GPU backend (same corpus, same staged copy, same batches), and, because `minimal`
analysis needs no device work, the same phase at `light` analysis on both. Prints a
Markdown table and writes it (and the raw records) to --out.

    python bench/compare_backends.py --config config/config.yaml --out bench/out
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from filerate import config as cfg
from filerate import corpus, stage
from filerate.engine import process


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--work", default="bench/out/work", help="where corpora are generated")
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--ramdisk", default="/dev/shm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--backends",
        default="cpu,gpu",
        help="comma list of cpu, gpu and cpu1 (the CPU backend in one process "
        "with the same threads as a GPU worker: separates GPU from threading)",
    )
    args = ap.parse_args()

    conf = cfg.load(args.config)
    phases = cfg.phases(conf)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    rows = []
    for name, settings in phases.items():
        cdir = work / settings["corpus"]
        if not (cdir / "manifest.parquet").exists():
            rec = corpus.generate(settings["corpus"], conf["corpora"][settings["corpus"]], cdir)
            print(
                f"corpus {settings['corpus']}: {rec['files']} files in {rec['seconds']:.1f} s",
                file=sys.stderr,
            )
        dest = stage.ramdisk_run_dir(args.ramdisk) / f"bench-{name}"
        srec = stage.stage(
            str(cdir / "manifest.parquet"),
            str(cdir / "files"),
            str(dest),
            phase=name,
            corpus=settings["corpus"],
        )
        try:
            levels = [settings["analysis"]] + (["light"] if settings["analysis"] != "light" else [])
            for level in levels:
                for backend in args.backends.split(","):
                    s = {
                        **settings,
                        "backend": backend.rstrip("1"),
                        "analysis": level,
                        "repeats": args.repeats,
                        "name": f"{name}-{backend}-{level}",
                    }
                    if backend == "cpu1":
                        s["processes"] = 1
                        s["workers"] = min(s["resolved"]["workers"], s["resolved"]["cpu_count"])
                        s["resolved"] = cfg.resolve_workers(s, s["resolved"]["cpu_count"])
                    t0 = time.perf_counter()
                    r = process.run_phase(
                        s, str(cdir / "manifest.parquet"), str(dest), srec, out / "runs" / s["name"]
                    )
                    rows.append(_row(name, backend, level, r, time.perf_counter() - t0))
                    print(_fmt(rows[-1]), file=sys.stderr)
        finally:
            stage.remove_run_dir(args.ramdisk)
    table = _table(rows)
    print(table)
    (out / "compare_backends.md").write_text(table + "\n")
    (out / "compare_backends.json").write_text(json.dumps(rows, indent=2))
    return 0


def _row(phase, backend, level, r, total_s) -> dict:
    s = r["summary"]
    c = r["cluster"]
    return {
        "phase": phase,
        "backend": backend,
        "analysis": level,
        "device": ", ".join(g["name"] for g in r["hardware"]["gpus"])
        if backend == "gpu"
        else r["hardware"]["cpu_model"],
        "files": r["corpus"]["files"],
        "processes": c["processes"],
        "threads_per_process": c["threads_per_process"],
        "startup_s": round(c["startup_s"], 2),
        "files_per_s_median": round(s["files_per_s_median"]),
        "files_per_s_min": round(s["files_per_s_min"]),
        "files_per_s_max": round(s["files_per_s_max"]),
        "mb_per_s_median": round(s["mb_per_s_median"]),
        "files_error": s["files_error"],
        "total_s": round(total_s, 1),
    }


def _fmt(row) -> str:
    return (
        f"{row['phase']:10} {row['backend']:4} {row['analysis']:8} "
        f"{row['files_per_s_median']:>10,} files/s  start-up {row['startup_s']} s"
    )


def _table(rows) -> str:
    head = (
        "| phase | analysis | backend | procs x threads | start-up s | files/s median "
        "(min–max) | MB/s | errors |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        lines.append(
            f"| {r['phase']} | {r['analysis']} | {r['backend']} | "
            f"{r['processes']} x {r['threads_per_process']} | {r['startup_s']} | "
            f"{r['files_per_s_median']:,} ({r['files_per_s_min']:,}–{r['files_per_s_max']:,}) | "
            f"{r['mb_per_s_median']:,} | {r['files_error']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
