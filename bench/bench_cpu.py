"""filerate against C tools on the same files, and the plan's oversubscribed settings.

One run on one machine: make (or reuse) the 10,000-file corpus, stage it on tmpfs, then
- time the C references over the staged files (median of --repeats runs each):
  `find | xargs -0 -P<cores> wc -l`, `find | xargs -0 cat > /dev/null`, and `find` alone;
- search a small grid of CPU configurations (processes x threads x batch size) for
  filerate's best `light` and `minimal` throughput (cluster start-up excluded, warm-up
  excluded, median of the timed repeats, every result validated against the manifest);
- run the plan's oversubscribed worker counts (32 and 96) both as threads (filerate's
  default mapping) and as processes, recording start-up time, peak memory of the process
  tree and files/s.

    python bench/bench_cpu.py              # figures go to bench/out/bench_cpu.{md,json}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from filerate import config as cfg
from filerate import corpus, stage, validate
from filerate.engine import process


def shell_rate(cmd: str, files: int, repeats: int) -> dict:
    times = []
    for _ in range(repeats + 1):  # the first run warms the page cache, untimed
        t0 = time.perf_counter()
        subprocess.run(["bash", "-c", cmd], check=True, env={**os.environ, "LC_ALL": "C"})
        times.append(time.perf_counter() - t0)
    med = statistics.median(times[1:])
    return {"command": cmd, "seconds_median": med, "files_per_s": files / med}


def run_filerate(name, settings, manifest, data, staging, out) -> dict:
    r = process.run_phase(settings, manifest, data, staging, out / name)
    v = validate.validate(
        pd.read_parquet(manifest), pd.read_parquet(out / name / "files.parquet"), r
    )
    if not v["ok"] or r["summary"]["files_error"]:
        raise SystemExit(f"{name}: validation failed or errors: {v}")
    res = pd.read_parquet(out / name / "resources.parquet")
    return {
        "name": name,
        "processes": r["cluster"]["processes"],
        "threads_per_process": r["cluster"]["threads_per_process"],
        "batch_size": settings["batch_size"],
        "analysis": settings["analysis"],
        "startup_s": r["cluster"]["startup_s"],
        "files_per_s_median": r["summary"]["files_per_s_median"],
        "files_per_s_min": r["summary"]["files_per_s_min"],
        "files_per_s_max": r["summary"]["files_per_s_max"],
        "peak_tree_rss_gb": float(res["tree_rss_bytes"].max()) / 2**30 if len(res) else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--skip-96-processes",
        action="store_true",
        help="skip the slowest case (96 worker processes take minutes to start)",
    )
    args = ap.parse_args()
    out = Path(args.out)
    cores = cfg.usable_cpus()
    cdir = out / "work" / f"corpus{args.files}"
    if not (cdir / "manifest.parquet").exists():
        corpus.generate("bench", {"files": args.files, "seed": 1}, cdir)
    manifest = str(cdir / "manifest.parquet")
    dest = stage.ramdisk_run_dir("/dev/shm") / "bench-cpu"
    srec = stage.stage(manifest, str(cdir / "files"), str(dest), phase="bench")
    results: dict = {
        "machine": {"cores": cores},
        "staging": srec,
        "references": {},
        "grid": [],
        "oversubscribed": [],
    }
    try:
        from filerate.engine.machine import cpu_model

        results["machine"]["cpu_model"] = cpu_model()
        find = f"find {dest} -type f"
        refs = {
            "find (list only)": f"{find} > /dev/null",
            f"find | xargs -0 -P{cores} wc -l": (
                f"{find} -print0 | xargs -0 -P{cores} wc -l > /dev/null"
            ),
            "find | xargs -0 cat > /dev/null": f"{find} -print0 | xargs -0 cat > /dev/null",
        }
        for label, cmd in refs.items():
            results["references"][label] = shell_rate(cmd, args.files, args.repeats)
            print(
                f"{label:36} {results['references'][label]['files_per_s']:>10,.0f} files/s",
                file=sys.stderr,
            )

        base = cfg.validate(
            {
                "corpora": {"c": {"files": args.files}},
                "phases": {
                    "p": {"corpus": "c", "backend": "cpu", "repeats": args.repeats, "warmup": 1}
                },
            }
        )

        def settings(name, **kw):
            s = {**cfg.phases(base)["p"], **kw, "name": name}
            s["resolved"] = cfg.resolve_workers(s, cores)
            return s

        for analysis in ("light", "minimal"):
            for procs in (1, cores):
                for threads in (1, 2):
                    for batch in (1000, 2500):
                        name = f"{analysis}-{procs}x{threads}-b{batch}"
                        s = settings(
                            name,
                            analysis=analysis,
                            processes=procs,
                            workers=procs * threads,
                            batch_size=batch,
                        )
                        row = run_filerate(name, s, manifest, str(dest), srec, out / "runs")
                        results["grid"].append(row)
                        print(
                            f"{name:36} {row['files_per_s_median']:>10,.0f} files/s",
                            file=sys.stderr,
                        )
        for workers in (32, 96):
            for mapping in ("threads", "processes"):
                if mapping == "processes" and workers == 96 and args.skip_96_processes:
                    continue
                procs = None if mapping == "threads" else workers
                name = f"oversub-{workers}-{mapping}"
                s = settings(
                    name,
                    analysis="light",
                    workers=workers,
                    processes=procs,
                    batch_size=1000,
                    repeats=3,
                )
                t0 = time.perf_counter()
                try:
                    row = run_filerate(name, s, manifest, str(dest), srec, out / "runs")
                except (Exception, asyncio.CancelledError) as exc:  # 96 processes on 2 cores
                    row = {
                        "name": name,
                        "processes": workers if procs else cores,
                        "threads_per_process": None,
                        "startup_s": None,
                        "peak_tree_rss_gb": None,
                        "files_per_s_median": None,
                        "failed": f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}",
                    }
                row["mapping"], row["plan_workers"] = mapping, workers
                row["total_s"] = time.perf_counter() - t0
                results["oversubscribed"].append(row)
                print(f"{name:36} {row}", file=sys.stderr)
                (out / "bench_cpu.partial.json").write_text(json.dumps(results, default=float))
    finally:
        stage.remove_run_dir("/dev/shm")
    md = report(results)
    print(md)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_cpu.md").write_text(md + "\n")
    (out / "bench_cpu.json").write_text(json.dumps(results, indent=2, default=float))
    return 0


def report(r: dict) -> str:
    wc = next(v for k, v in r["references"].items() if "wc -l" in k)
    cat = next(v for k, v in r["references"].items() if "cat" in k)
    lines = [
        f"Machine: {r['machine'].get('cpu_model')}, {r['machine']['cores']} usable CPUs; "
        f"corpus staged on {r['staging']['fs_type']} ({r['staging']['files']} files, "
        f"{r['staging']['bytes'] / 1e6:.0f} MB).",
        "",
        "| what | files/s | vs `xargs wc -l` | vs `xargs cat` |",
        "|---|--:|--:|--:|",
    ]
    for label, v in r["references"].items():
        lines.append(
            f"| `{label}` | {v['files_per_s']:,.0f} | "
            f"{v['files_per_s'] / wc['files_per_s']:.2f}x | "
            f"{v['files_per_s'] / cat['files_per_s']:.2f}x |"
        )
    for analysis in ("light", "minimal"):
        best = max(
            (g for g in r["grid"] if g["analysis"] == analysis),
            key=lambda g: g["files_per_s_median"],
        )
        lines.append(
            f"| filerate `{analysis}`, best: {best['processes']} proc x "
            f"{best['threads_per_process']} thr, batch {best['batch_size']} | "
            f"{best['files_per_s_median']:,.0f} | "
            f"{best['files_per_s_median'] / wc['files_per_s']:.2f}x | "
            f"{best['files_per_s_median'] / cat['files_per_s']:.2f}x |"
        )
    lines += [
        "",
        "Grid (median files/s over the timed repeats, cluster start-up excluded):",
        "",
        "| analysis | processes x threads | batch | files/s (min–max) |",
        "|---|---|--:|--:|",
    ]
    for g in r["grid"]:
        lines.append(
            f"| {g['analysis']} | {g['processes']} x {g['threads_per_process']} | "
            f"{g['batch_size']} | {g['files_per_s_median']:,.0f} "
            f"({g['files_per_s_min']:,.0f}–{g['files_per_s_max']:,.0f}) |"
        )
    lines += [
        "",
        "The plan's oversubscribed worker counts (light, batch 1000):",
        "",
        "| plan workers | mapped to | processes x threads | start-up s | peak RSS GiB | files/s |",
        "|--:|---|---|--:|--:|--:|",
    ]
    for o in r["oversubscribed"]:
        if o.get("failed"):
            lines.append(
                f"| {o['plan_workers']} | {o['mapping']} | {o['processes']} processes "
                f"| did not start: {o['failed']} | | |"
            )
            continue
        lines.append(
            f"| {o['plan_workers']} | {o['mapping']} | {o['processes']} x "
            f"{o['threads_per_process']} | {o['startup_s']:.1f} | "
            f"{o['peak_tree_rss_gb']:.2f} | {o['files_per_s_median']:,.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
