"""Cold-cache reference beside filerate, at the same thread counts, on the same files.

One run on one machine: make (or reuse) a synthetic corpus on the disk, then for each
thread count (default 1, 2, 8, 32, 64):

- a compiled open/read/close loop (bench/cold_reader.c), one pass after evicting the
  corpus, ``--repeats`` times (median);
- filerate in place with ``cache: cold`` and ``workers`` = that thread count (its timed
  repeats are each one evicted pass; cluster start and warm-up are not in them);

and the staging references from an evicted source to the RAM disk: ``cp -r``,
``tar | tar`` and ``filerate stage``. Every pass is preceded by an eviction whose
resident share (mincore) is recorded. Eviction: per-file posix_fadvise(DONTNEED) by
default (``--eviction drop_caches`` as root drops the whole machine's caches).

    python bench/bench_cold.py --files 20000     # -> bench/out/bench_cold.{md,json}
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from filerate import config as cfg
from filerate import corpus
from filerate.engine import batchio, cache, disk

HERE = Path(__file__).resolve().parent


def build_reader(tmp: Path) -> Path:
    exe = tmp / "cold_reader"
    subprocess.run(
        ["cc", "-O2", "-pthread", "-o", str(exe), str(HERE / "cold_reader.c")], check=True
    )
    return exe


def evicted(files: Path, table, eviction: str) -> dict:
    rec = cache.evict(files, table, eviction)
    if not rec["cold"]:
        raise SystemExit(f"bench_cold: the corpus is not cold after eviction: {rec['note']}")
    return rec


def c_reader(exe, files, listfile, table, threads, repeats, eviction) -> dict:
    times, shares = [], []
    for _ in range(repeats):
        shares.append(evicted(files, table, eviction)["resident_share"])
        out = subprocess.run(
            [str(exe), str(files), str(listfile), str(threads)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        times.append(float(out[0]))
    med = statistics.median(times)
    return {"seconds_median": med, "files_per_s": len(table) / med, "resident": shares}


def filerate_cold(manifest, files, threads, repeats, eviction, out: Path) -> dict:
    conf = cfg.validate(
        {
            "corpora": {"c": {"files": 1}},
            "phases": {
                f"cold-{threads}": {
                    "corpus": "c",
                    "backend": "cpu",
                    "workers": threads,
                    "batch_size": 500,
                    "analysis": "minimal",
                    "staging": False,
                    "cache": "cold",
                    "eviction": eviction,
                    "repeats": repeats,
                }
            },
        }
    )
    settings = next(iter(cfg.phases(conf).values()))
    phase_dir = out / f"filerate-cold-{threads}"
    cmd = [sys.executable, "-m", "filerate", "process", "--settings", json.dumps(settings)]
    cmd += ["--manifest", str(manifest), "--data-dir", str(files), "--out", str(phase_dir)]
    subprocess.run(cmd, check=True)
    run = json.loads((phase_dir / "run.json").read_text())
    timed = [r for r in run["repeats"] if not r["warmup"]]
    return {
        "seconds_median": run["summary"]["wall_s_median"],
        "files_per_s": run["summary"]["files_per_s_median"],
        "processes_x_threads": f"{run['cluster']['processes']}x"
        f"{run['cluster']['threads_per_process']}",
        "resident": [r["cache"]["resident_share"] for r in timed],
        "all_cold": all(r["cache"]["cold"] for r in timed),
        "files_error": run["summary"]["files_error"],
    }


def staging_refs(files: Path, manifest, table, shm: Path, eviction: str) -> dict:
    out = {}
    cmds = {
        "cp -r": f"cp -r '{files}' '{shm}/cp'",
        "tar | tar": f"mkdir '{shm}/tar' && tar -C '{files}' -cf - . | tar -C '{shm}/tar' -xf -",
    }
    for name, cmd in cmds.items():
        evicted(files, table, eviction)
        t0 = time.perf_counter()
        subprocess.run(["bash", "-c", cmd], check=True)
        s = time.perf_counter() - t0
        out[name] = {"seconds": s, "files_per_s": len(table) / s}
        shutil.rmtree(shm / name.split()[0], ignore_errors=True)
    from filerate import stage

    evicted(files, table, eviction)
    rec = stage.stage(str(manifest), str(files), str(shm / "stage"), phase="bench", threads=8)
    out["filerate stage (8 threads)"] = {
        "seconds": rec["seconds"],
        "files_per_s": rec["files_per_s"],
    }
    shutil.rmtree(shm / "stage", ignore_errors=True)
    return out


def markdown(res: dict) -> str:
    lines = [
        f"Cold reads, {res['files']:,} files ({res['bytes'] / 1e6:.0f} MB) on {res['device']} "
        f"({res['fs_type']}), eviction {res['eviction']}, {res['cpus']} CPUs",
        "",
        "| threads | C open/read/close files/s | filerate cold files/s | ratio |",
        "|--:|--:|--:|--:|",
    ]
    for t, row in res["threads"].items():
        c, f = row["c"]["files_per_s"], row["filerate"]["files_per_s"]
        lines.append(f"| {t} | {c:,.0f} | {f:,.0f} | {f / c:.2f} |")
    lines += ["", "| staging from cold | seconds | files/s |", "|---|--:|--:|"]
    for name, r in res["staging"].items():
        cell = name.replace("|", "\\|")
        lines.append(f"| {cell} | {r['seconds']:.2f} | {r['files_per_s']:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--threads", default="1,2,8,32,64")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eviction", default="fadvise", choices=["fadvise", "drop_caches"])
    ap.add_argument("--corpus-dir", default="bench/out/cold-corpus")
    ap.add_argument("--out", default="bench/out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cdir = Path(args.corpus_dir)
    if not (cdir / "corpus.json").exists() or (
        json.loads((cdir / "corpus.json").read_text())["files"] != args.files
    ):
        corpus.generate("cold", {"files": args.files, "seed": 9}, cdir)
    manifest, files = cdir / "manifest.parquet", cdir / "files"
    table = batchio.FileTable.from_manifest(str(manifest))
    listfile = out / "cold-list.bin"
    listfile.write_bytes(b"\0".join(table.path_raw) + b"\0")
    mount = disk.mount_of(files)
    res = {
        "files": len(table),
        "bytes": int(table.sizes.sum()),
        "device": disk.block_device(files),
        "fs_type": mount.fs_type,
        "eviction": args.eviction,
        "cpus": cfg.usable_cpus(),
        "threads": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_reader(Path(tmp))
        for t in (int(x) for x in args.threads.split(",")):
            c = c_reader(exe, files, listfile, table, t, args.repeats, args.eviction)
            f = filerate_cold(manifest, files, t, args.repeats, args.eviction, out)
            res["threads"][t] = {"c": c, "filerate": f}
            print(f"threads {t}: C {c['files_per_s']:,.0f}, filerate {f['files_per_s']:,.0f}")
    shm = Path(tempfile.mkdtemp(prefix="filerate-bench-cold-", dir="/dev/shm"))
    try:
        res["staging"] = staging_refs(files, manifest, table, shm, args.eviction)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    (out / "bench_cold.json").write_text(json.dumps(res, indent=2))
    (out / "bench_cold.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
