"""files/s of filerate's reader by where its buffer starts within a page.

The kernel copies a read's bytes from the page cache (where a file starts at page offset
0) into the buffer with ``rep movsb``. On some CPUs that copy is much slower when the
destination starts a few bytes into a page (4K aliasing between source and destination):
on this project's AMD EPYC VM a buffer 1-31 bytes into a page read at about 60 % of the
rate of one on a page boundary, and glibc puts every large allocation 16 bytes into a
page. This bench reads one corpus (tmpfs, page cache warm, ``minimal``: read and hash)
with T threads calling the compiled reader directly, no Dask, the buffer at each offset
in turn, interleaved over rounds; it prints the median files/s per offset and its ratio
to offset 0. filerate's buffers start on a page (engine.buffers.aligned_empty) and its
slots skip the window (batchio.slot_layout).

    python bench/copy_alignment.py --out bench/out/align
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from filerate import fmt, stage
from filerate.engine import batchio, buffers

sys.path.insert(0, str(Path(__file__).resolve().parent))
import floor_fraction  # noqa: E402  (the corpus preparation and machine description)

OFFSETS = (0, 8, 16, 24, 32, 40, 64, 1024)


def rate(table, data_dir: str, threads: int, offset: int, seconds: float) -> float:
    """files/s of whole passes over the corpus for ``seconds``, every thread's buffer
    starting ``offset`` bytes into a page."""
    import os

    n = len(table)
    skip = np.zeros(n, dtype=bool)
    dirfd = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)

    def worker(lo: int, hi: int) -> int:
        offsets, size = batchio.reused_slot(table.sizes[lo:hi], skip[lo:hi])
        buf = buffers.aligned_empty(size + offset)[offset:]
        for start in range(lo, hi, 1000):
            stop = min(start + 1000, hi)
            batchio.read_batch(
                dirfd,
                table,
                start,
                stop,
                buf,
                offsets[: stop - start],
                skip[start:stop],
                False,
                False,
            )
        return hi - lo

    cuts = np.linspace(0, n, threads + 1).astype(int)
    done, t0 = 0, time.perf_counter()
    try:
        with ThreadPoolExecutor(threads) as pool:
            while time.perf_counter() - t0 < seconds:
                done += sum(pool.map(worker, cuts[:-1], cuts[1:]))
    finally:
        os.close(dirfd)
    return done / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/copy_alignment")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.7, help="per measurement")
    ap.add_argument("--ramdisk", default="/dev/shm")
    args = ap.parse_args()
    out = Path(args.out).absolute()
    (out / "work").mkdir(parents=True, exist_ok=True)
    try:
        c = floor_fraction.prepare_corpus(args.files, out, args.ramdisk)
        table = batchio.FileTable.from_manifest(c["manifest"])
        batchio.warm_up()
        rate(table, c["data"], args.threads, 0, args.seconds)  # page cache and threads warm
        rows = {k: [] for k in OFFSETS}
        for r in range(args.rounds):
            order = OFFSETS if r % 2 == 0 else tuple(reversed(OFFSETS))
            for k in order:
                rows[k].append(rate(table, c["data"], args.threads, k, args.seconds))
    finally:
        stage.remove_run_dir(args.ramdisk)
    base = statistics.median(rows[0])
    m = floor_fraction.machine()
    lines = [
        f"{m['cpu_model']}, {m['usable_cpus']} usable CPUs, Linux {m['kernel']}; {m['date']}. "
        f"{fmt.num(args.files)} files on {c['fs_type']}, page cache warm, {args.threads} "
        f"threads, `minimal`, median of {args.rounds} interleaved rounds.",
        "",
        "| buffer starts at page offset | files/s | vs offset 0 |",
        "|--:|--:|--:|",
    ]
    for k in OFFSETS:
        med = statistics.median(rows[k])
        lines.append(f"| {k} | {fmt.num(med)} | {fmt.ratio(med / base)} |")
    md = "\n".join(lines)
    print(md)
    (out / "copy_alignment.md").write_text(md + "\n")
    (out / "copy_alignment.json").write_text(json.dumps({"rounds": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
