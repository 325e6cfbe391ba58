"""The floor: a bare compiled open/read/close loop over a phase's files, no Dask.

It reads the same files (the same FileTable, the same files skipped as too large), with
the same system calls per file as filerate's reader (openat, a read of size + 1 bytes,
the read that returns 0, close), on as many threads as the phase has, and does nothing
else: no hashing, no counting, no scheduler. Its files/s is the ceiling filerate could
reach on this machine (the mdtest-style number), so "fraction of floor" says how close
filerate comes. Threads take chunks of the file table from a shared counter; the numba
loop runs without the GIL. Timing follows filerate's warm repeats: whole passes back to
back until min_repeat_s has passed, then files done / wall time.
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from filerate.confidence import StoppingRule, median_ci
from filerate.engine import batchio

CHUNK = 512  # files per grab from the shared counter: small enough to balance threads
MAX_BUFFER = 1 << 20  # larger files take several reads, as a plain reader would


@numba.njit(nogil=True, boundscheck=False)
def _open_read_close(dirfd, names, name_offsets, sizes, skip, lo, hi, buf, out):
    """Open, read and close files [lo, hi); out += (files read whole, bytes, errors)."""
    nptr = names.ctypes.data
    base = buf.ctypes.data
    cap = buf.shape[0]
    for i in range(lo, hi):
        if skip[i]:
            continue
        fd = batchio._openat(dirfd, nptr + name_offsets[i], batchio.OPEN_FLAGS)
        if fd < 0:
            out[2] += 1
            continue
        want = sizes[i] + 1
        got = 0
        while got < want:
            r = batchio._read(fd, base, min(want - got, cap))
            if r <= 0:
                break
            got += r
        batchio._close(fd)
        if got == sizes[i]:
            out[0] += 1
            out[1] += got
        else:
            out[2] += 1


class Floor:
    """The floor loop for one file table and directory, on ``threads`` threads."""

    def __init__(self, table: batchio.FileTable, data_dir: str, threads: int, max_file_bytes):
        self.table = table
        self.data_dir = data_dir
        self.threads = max(1, int(threads))
        self.skip = table.sizes > max_file_bytes
        biggest = int(table.sizes[~self.skip].max()) + 1 if (~self.skip).any() else 1
        self.buffer_bytes = min(biggest, MAX_BUFFER)

    def _worker(self, dirfd: int, counter, totals: np.ndarray) -> frozenset[int]:
        t = self.table
        buf = np.empty(self.buffer_bytes, dtype=np.uint8)
        n = len(t)
        while True:
            lo = next(counter) * CHUNK  # itertools.count is atomic under the GIL
            if lo >= n:
                break
            hi = min(lo + CHUNK, n)
            _open_read_close(
                dirfd, t.names, t.name_offsets, t.sizes, self.skip, lo, hi, buf, totals
            )
        return frozenset(os.sched_getaffinity(0))  # this thread's CPUs, read back

    def one_pass(self, pool: ThreadPoolExecutor, dirfd: int) -> tuple[np.ndarray, list]:
        """Every file once, on all threads; (files ok, bytes, errors) and each thread's CPUs."""
        counter = itertools.count()
        parts = [np.zeros(3, dtype=np.int64) for _ in range(self.threads)]
        futures = [pool.submit(self._worker, dirfd, counter, p) for p in parts]
        cpus = [f.result() for f in futures]
        return np.sum(parts, axis=0), cpus

    def repeat(self, pool, dirfd: int, min_repeat_s: float) -> dict:
        """Whole passes back to back until min_repeat_s has passed: one timed repeat."""
        t0 = time.perf_counter()
        totals = np.zeros(3, dtype=np.int64)
        passes = 0
        cpus: set[int] = set()
        while True:
            part, seen = self.one_pass(pool, dirfd)
            totals += part
            passes += 1
            cpus.update(*seen)
            wall = time.perf_counter() - t0
            if wall >= min_repeat_s:
                break
        files_ok, nbytes, errors = (int(x) for x in totals)
        return {
            "passes": passes,
            "wall_s": wall,
            "files_ok": files_ok,
            "files_error": errors,
            "bytes": nbytes,
            "files_per_s": files_ok / wall if wall > 0 else 0.0,
            "cpus": sorted(cpus),
        }

    def measure(self, rule: StoppingRule, min_repeat_s: float, warmup: bool = True) -> dict:
        """Timed repeats chosen by ``rule`` (after one untimed pass); the floor's record."""
        dirfd = os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="filerate-floor") as pool:
                if warmup:
                    self.one_pass(pool, dirfd)
                repeats, reason, t0 = [], "continue", time.perf_counter()
                while True:
                    repeats.append(self.repeat(pool, dirfd, min_repeat_s))
                    fps = [r["files_per_s"] for r in repeats]
                    stop, reason = rule.decide(fps, time.perf_counter() - t0)
                    if stop:
                        break
        finally:
            os.close(dirfd)
        return summarise(repeats, self.threads, reason)


def summarise(repeats: list[dict], threads: int, stop_reason: str) -> dict:
    """The floor's record for run.json: its repeats and median files/s with the CI."""
    c = median_ci([r["files_per_s"] for r in repeats])
    return {
        "threads": threads,
        "repeats": repeats,
        "stop_reason": stop_reason,
        "files_per_s_median": c.median,
        "files_per_s_ci": c.as_dict(),
        "cpus": sorted(set().union(*(r["cpus"] for r in repeats))),
    }


def warm_up() -> None:
    """Compile the loop (a few hundred ms, once per process) before anything is timed."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "a.txt"), "wb") as fh:
            fh.write(b"floor\n")
        table = batchio.FileTable([b"a.txt"], np.array([6]))
        f = Floor(table, tmp, 1, 1 << 30)
        with ThreadPoolExecutor(1) as pool:
            dirfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
            try:
                f.one_pass(pool, dirfd)
            finally:
                os.close(dirfd)
