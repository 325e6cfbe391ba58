"""`full` analysis, CPU (all cores) against GPU on one node: files/s, where the time went,
and a check that both backends give identical results.

Makes a synthetic corpus with planted near-duplicates on the RAM disk (no network needed),
then runs the same phase at `light` and at `full` on each backend (read in place from the
RAM disk, one warm-up and --repeats timed repeats; the corpus-wide duplicate step runs once
per `full` phase, after the timing). Checks that every per-file value (hash, counts,
entropy, MinHash signature) and duplicates.parquet are equal across backends, and writes
full_cpu_vs_gpu.md (the table) and full_cpu_vs_gpu.json (the records) to --out.

    python bench/full_cpu_vs_gpu.py --out docs/gpu          # ~3 min on 16 cores + 1 GPU
    python bench/full_cpu_vs_gpu.py --out /tmp/x --files 2000 --backends cpu   # CPU only
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from filerate import atomic, corpus
from filerate import config as cfg
from filerate.engine import fullscan, process

EDIT_RATES = [0.002, 0.005, 0.01, 0.02, 0.03, 0.04]
PER_FILE = ["status", "bytes", "xxh3", "lines", "words", "non_ascii", "type", "entropy", "minhash"]


def _settings(backend: str, level: str, files: int, repeats: int) -> dict:
    phase = {"corpus": "c", "backend": backend, "analysis": level, "staging": False}
    phase.update({"batch_size": 1000, "warmup": 1, "repeats": repeats, "timeout_s": 900})
    conf = cfg.validate({"corpora": {"c": {"files": files}}, "phases": {"p": phase}})
    settings = cfg.phases(conf)["p"]
    settings["name"] = f"{backend}-{level}"
    return settings


def _breakdown(out: Path, run: dict) -> dict:
    """Seconds summed over the last timed repeat's tasks, per part, and the dedup step's."""
    batches = pd.read_parquet(out / "batches.parquet")
    last = batches[batches["repeat"] == batches["repeat"].max()]
    parts = {c: float(last[c].sum()) for c in ("read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s")}
    dedup = run.get("dedup") or {}
    return {**parts, "lsh_shuffle_s": dedup.get("lsh_s"), "verify_s": dedup.get("verify_s")}


def _kernel_split(cdir: Path, sample: int = 2000) -> dict:
    """Shares of the CPU `full` kernel's time (one thread, ``sample`` files): histogram,
    shingle hashing, MinHash; measured here because the task records them as one part."""
    m = pd.read_parquet(cdir / "manifest.parquet").head(sample)
    datas = [(cdir / "files" / p).read_bytes() for p in m["path"]]
    sizes = np.array([len(d) for d in datas], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum((sizes + 8) // 8 * 8)[:-1]]).astype(np.int64)
    buf = np.full(int(offsets[-1] + sizes[-1] + 8), 32, dtype=np.uint8)
    for off, d in zip(offsets, datas, strict=True):
        buf[off : off + len(d)] = np.frombuffer(d, dtype=np.uint8)
    fullscan.full_batch(buf, offsets[:1], sizes[:1], 5, 128)  # compile
    t0 = time.perf_counter()
    spent = fullscan.full_batch(buf, offsets, sizes, 5, 128).spent_ns / 1e9
    wall = time.perf_counter() - t0
    return {
        "files": len(datas),
        "files_per_s_one_thread": len(datas) / wall,
        **dict(zip(("histogram_s", "shingling_s", "minhash_s"), spent.tolist(), strict=True)),
    }


def _same(a: Path, b: Path) -> dict:
    """Are two phases' per-file results and duplicates equal?"""
    fa, fb = (pd.read_parquet(p / "files.parquet")[PER_FILE] for p in (a, b))
    out = {"files_equal": bool(fa.equals(fb))}
    if (a / "duplicates.parquet").exists():
        da, db = (
            pd.read_parquet(p / "duplicates.parquet").sort_values(["path_a", "path_b"])
            for p in (a, b)
        )
        out["duplicates_equal"] = bool(da.reset_index(drop=True).equals(db.reset_index(drop=True)))
    return out


def _row(backend: str, level: str, run: dict, out: Path) -> dict:
    s, c = run["summary"], run["cluster"]
    return {
        "backend": backend,
        "analysis": level,
        "processes_x_threads": f"{c['processes']} x {c['threads_per_process']}",
        "files": run["corpus"]["files"],
        "files_per_s": s["files_per_s_median"],
        "mb_per_s": s["mb_per_s_median"],
        "errors": s["files_error"],
        **_breakdown(out, run),
    }


def _fmt(v) -> str:
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


def _table(rows: list[dict], checks: dict, split: dict, device: str) -> str:
    cols = ["backend", "analysis", "processes_x_threads", "files_per_s", "mb_per_s", "errors"]
    cols += ["read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s", "lsh_shuffle_s", "verify_s"]
    lines = [f"Machine: {device}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(str(r[c]) if isinstance(r[c], str) else _fmt(r[c]) for c in cols)
            + " |"
        )
    by = {(r["backend"], r["analysis"]): r["files_per_s"] for r in rows}
    lines.append("")
    if ("cpu", "full") in by and ("gpu", "full") in by:
        lines.append(f"GPU / CPU at full: {by['gpu', 'full'] / by['cpu', 'full']:.2f}x")
    for b in ("cpu", "gpu"):
        if (b, "light") in by and (b, "full") in by:
            cost = 1 - by[b, "full"] / by[b, "light"]
            lines.append(f"{b}: light -> full costs {cost:.0%} of files/s")
    lines.append(f"Identical results across backends: {checks}")
    lines.append(f"CPU full kernel, one thread: {split}")
    lines.append("")
    lines.append(
        "Seconds are summed over the tasks of the last timed repeat (so they exceed the "
        "wall time when tasks run in parallel); lsh_shuffle_s and verify_s are the "
        "corpus-wide duplicate step, run once after the timed repeats, not in files/s."
    )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for full_cpu_vs_gpu.{md,json}")
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backends", default="cpu,gpu")
    ap.add_argument("--work", default="/dev/shm", help="where the corpus is made (RAM disk)")
    args = ap.parse_args()
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="filerate-full-bench-", dir=args.work))
    try:
        cdir = work / "corpus"
        spec = {"files": args.files, "seed": 42, "near_duplicate_rate": 0.05}
        rec = corpus.generate("c", {**spec, "near_duplicate_edit_rates": EDIT_RATES}, cdir)
        print(f"corpus: {rec['files']} files in {rec['seconds']:.1f} s", file=sys.stderr)
        rows, runs, device = [], {}, ""
        for backend in args.backends.split(","):
            for level in ("light", "full"):
                s = _settings(backend, level, args.files, args.repeats)
                pdir = work / "runs" / s["name"]
                manifest, files = str(cdir / "manifest.parquet"), str(cdir / "files")
                run = process.run_phase(s, manifest, files, None, pdir)
                runs[s["name"]] = pdir
                rows.append(_row(backend, level, run, pdir))
                gpus = ", ".join(g["name"] for g in run["hardware"].get("gpus") or [])
                device = f"{run['hardware']['cpu_model']}; GPUs: {gpus or 'none'}"
                print(f"{s['name']}: {rows[-1]['files_per_s']:,.0f} files/s", file=sys.stderr)
        checks = {}
        if "cpu-full" in runs and "gpu-full" in runs:
            checks = _same(runs["cpu-full"], runs["gpu-full"])
        split = _kernel_split(cdir)
        table = _table(rows, checks, split, device)
        print(table)
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(out / "full_cpu_vs_gpu.md", table + "\n")
        record = {"rows": rows, "identical": checks, "cpu_kernel": split, "device": device}
        atomic.write_json(out / "full_cpu_vs_gpu.json", record)
        ok = all(checks.values()) and all(r["errors"] == 0 for r in rows)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
