"""`full` analysis, CPU (all cores) against GPU on one node: files/s, where the time went,
and a check that both backends give identical results.

Makes a synthetic corpus with planted near-duplicates on the RAM disk (no network needed),
then runs the same phase at `light` and at `full` on each backend (read in place from the
RAM disk, one warm-up and --repeats timed repeats). The timed table is printed and written
first; then the corpus-wide duplicate step runs apart, once per `full` phase, on a CPU
LocalCluster of one process per core (the same code whatever backend made the signatures),
timed on its own (--skip-dedup leaves it out). Checks that every per-file value (hash,
counts, entropy, MinHash signature) and duplicates.parquet are equal across backends, and
writes full_cpu_vs_gpu.md (the tables) and full_cpu_vs_gpu.json (the records) to --out.

    python bench/full_cpu_vs_gpu.py --out docs/gpu          # ~3 min on 16 cores + 1 GPU
    python bench/full_cpu_vs_gpu.py --out /tmp/x --files 2000 --backends cpu   # CPU only
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from filerate import atomic, corpus, fmt
from filerate import config as cfg
from filerate.dedup import find
from filerate.engine import fullscan, process
from filerate.engine.file_results import FileResults
from filerate.engine.records import FileStatus

EDIT_RATES = [0.002, 0.005, 0.01, 0.02, 0.03, 0.04]
PER_FILE = ["status", "bytes", "xxh3", "lines", "words", "non_ascii", "type", "entropy", "minhash"]


def _settings(backend: str, level: str, files: int, repeats: int) -> dict:
    phase = {"corpus": "c", "backend": backend, "analysis": level, "staging": False}
    phase.update({"batch_size": 1000, "warmup": 1, "repeats": repeats, "timeout_s": 900})
    conf = cfg.validate({"corpora": {"c": {"files": files}}, "phases": {"p": phase}})
    settings = cfg.phases(conf)["p"]
    settings["name"] = f"{backend}-{level}"
    settings["defer_duplicates"] = True  # run apart, after the timed table (dedup_step)
    return settings


def _breakdown(out: Path) -> dict:
    """Seconds summed over the last timed repeat's tasks, per part."""
    batches = pd.read_parquet(out / "batches.parquet")
    last = batches[batches["repeat"] == batches["repeat"].max()]
    return {c: float(last[c].sum()) for c in ("read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s")}


def _results_from(pdir: Path) -> FileResults:
    """The phase's last timed repeat as the duplicate step takes it, from files.parquet."""
    f = pd.read_parquet(pdir / "files.parquet", columns=["status", "bytes", "xxh3", "minhash"])
    ok = (f["status"] == "ok").to_numpy()
    res = FileResults(len(f))
    res.status[:] = np.where(ok, FileStatus.OK, FileStatus.READ_FAILED)
    res.bytes[ok] = f["bytes"].to_numpy()[ok].astype(np.int64)
    res.hash[ok] = np.frombuffer(bytes.fromhex("".join(f["xxh3"][ok])), dtype=">u8")
    sig = np.frombuffer(b"".join(f["minhash"][ok]), dtype="<u4").reshape(int(ok.sum()), -1)
    res.signature = np.zeros((len(f), sig.shape[1]), dtype=np.uint32)
    res.signature[ok] = sig
    return res


def dedup_step(runs: dict, cdir: Path, settings: dict) -> list[dict]:
    """The duplicate step of each `full` phase, apart from the timed repeats: writes its
    duplicates.parquet and returns its run.json-style records (seconds included)."""
    from distributed import Client, LocalCluster

    manifest = pd.read_parquet(cdir / "manifest.parquet")
    records = []
    with LocalCluster(n_workers=os.cpu_count(), threads_per_worker=1) as lc, Client(lc) as client:
        for name, pdir in runs.items():
            if not name.endswith("-full"):
                continue
            t0 = time.perf_counter()
            frame, rec = find.find_duplicates(
                client,
                _results_from(pdir),
                manifest,
                settings[name]["minhash"],
                str(cdir / "files"),
            )
            atomic.write_parquet(pdir / "duplicates.parquet", frame)
            records.append({"phase": name, **rec, "step_s": time.perf_counter() - t0})
            print(f"{name} duplicate step: {fmt.seconds(records[-1]['step_s'])}", file=sys.stderr)
    return records


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


def _same_files(a: Path, b: Path) -> dict:
    """Are two phases' per-file results equal?"""
    fa, fb = (pd.read_parquet(p / "files.parquet")[PER_FILE] for p in (a, b))
    return {"files_equal": bool(fa.equals(fb))}


def _same_duplicates(a: Path, b: Path) -> dict:
    """Are two phases' duplicates.parquet equal?"""
    da, db = (
        pd.read_parquet(p / "duplicates.parquet").sort_values(["path_a", "path_b"]) for p in (a, b)
    )
    return {"duplicates_equal": bool(da.reset_index(drop=True).equals(db.reset_index(drop=True)))}


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
        **_breakdown(out),
    }


def _fmt(v) -> str:
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.2f}"


def _table(rows: list[dict], checks: dict, split: dict, device: str) -> str:
    cols = ["backend", "analysis", "processes_x_threads", "files_per_s", "mb_per_s", "errors"]
    cols += ["read_s", "hash_s", "h2d_s", "analyse_s", "d2h_s"]
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
        "wall time when tasks run in parallel). The corpus-wide duplicate step is not in "
        "files/s: it runs apart, after this table (below)."
    )
    return "\n".join(lines)


DEDUP_COLS = ("candidate_pairs", "pairs_over_partner_cap", "verified_pairs", "near_pairs")
DEDUP_SECONDS = ("exact_s", "lsh_s", "verify_s", "total_s", "step_s")


def _dedup_table(records: list[dict], checks: dict) -> str:
    """The duplicate step of each `full` phase: its pairs and seconds."""
    cols = ["phase", *DEDUP_COLS, *DEDUP_SECONDS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in records:
        cells = [r["phase"], *(fmt.num(r[c]) for c in DEDUP_COLS)]
        lines.append("| " + " | ".join(cells + [fmt.seconds(r[c]) for c in DEDUP_SECONDS]) + " |")
    lines.append("")
    lines.append(f"Identical duplicates across backends: {checks or 'not compared'}")
    lines.append(
        "The duplicate step ran on a CPU LocalCluster of one process per core, once per "
        "`full` phase over its last timed repeat; step_s includes starting its tasks "
        "(and compiling the verification kernels on each worker)."
    )
    return "\n".join(lines)


def _run_phases(args, cdir: Path, work: Path):
    """Every backend x level phase, timed (the duplicate step deferred): (rows, phase
    folders by name, settings by name, device)."""
    rows, runs, settings, device = [], {}, {}, ""
    for backend in args.backends.split(","):
        for level in ("light", "full"):
            s = _settings(backend, level, args.files, args.repeats)
            pdir = work / "runs" / s["name"]
            manifest, files = str(cdir / "manifest.parquet"), str(cdir / "files")
            run = process.run_phase(s, manifest, files, None, pdir)
            runs[s["name"]], settings[s["name"]] = pdir, s
            rows.append(_row(backend, level, run, pdir))
            gpus = ", ".join(g["name"] for g in run["hardware"].get("gpus") or [])
            device = f"{run['hardware']['cpu_model']}; GPUs: {gpus or 'none'}"
            print(f"{s['name']}: {fmt.rate(rows[-1]['files_per_s'])}", file=sys.stderr)
    return rows, runs, settings, device


def _write(out: Path, text: str, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "full_cpu_vs_gpu.md", text + "\n")
    atomic.write_json(out / "full_cpu_vs_gpu.json", record)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for full_cpu_vs_gpu.{md,json}")
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backends", default="cpu,gpu")
    ap.add_argument("--work", default="/dev/shm", help="where the corpus is made (RAM disk)")
    ap.add_argument("--skip-dedup", action="store_true", help="leave the duplicate step out")
    args = ap.parse_args()
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="filerate-full-bench-", dir=args.work))
    try:
        cdir = work / "corpus"
        spec = {"files": args.files, "seed": 42, "near_duplicate_rate": 0.05}
        rec = corpus.generate("c", {**spec, "near_duplicate_edit_rates": EDIT_RATES}, cdir)
        print(f"corpus: {rec['files']} files in {fmt.seconds(rec['seconds'])}", file=sys.stderr)
        rows, runs, settings, device = _run_phases(args, cdir, work)
        both = "cpu-full" in runs and "gpu-full" in runs
        checks = _same_files(runs["cpu-full"], runs["gpu-full"]) if both else {}
        split = _kernel_split(cdir)
        table = _table(rows, checks, split, device)
        print(table, flush=True)  # before the duplicate step: a cut-short run still has it
        record = {"rows": rows, "identical": checks, "cpu_kernel": split, "device": device}
        _write(out, table, record)
        if not args.skip_dedup:
            record["dedup"] = dedup_step(runs, cdir, settings)
            dup_checks = _same_duplicates(runs["cpu-full"], runs["gpu-full"]) if both else {}
            checks.update(dup_checks)
            dedup = _dedup_table(record["dedup"], dup_checks)
            print("\n" + dedup)
            _write(out, table + "\n\n## Duplicate step\n\n" + dedup, record)
        ok = all(checks.values()) and all(r["errors"] == 0 for r in rows)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
