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
from contextlib import contextmanager

import numba
import numpy as np

from filerate.confidence import StoppingRule
from filerate.engine import batchio, buffers, rounds
from filerate.openflags import READ_FLAGS

CHUNK = 512  # files per grab from the shared counter: small enough to balance threads
MAX_BUFFER = 1 << 20  # larger files take several reads, as a plain reader would
_READ_FLAGS = READ_FLAGS  # a plain int: the compiled loop freezes it


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _open_read_close(dirfd, names, name_offsets, sizes, skip, lo, hi, buf, out):
    """Open, read and close files [lo, hi); out += (files read whole, bytes, errors)."""
    nptr = names.ctypes.data
    base = buf.ctypes.data
    cap = buf.shape[0]
    for i in range(lo, hi):
        if skip[i]:
            continue
        fd = batchio._openat(dirfd, nptr + name_offsets[i], _READ_FLAGS)
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
        buf = buffers.aligned_empty(self.buffer_bytes)  # as the reader's (see buffers)
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
        totals = np.zeros(3, dtype=np.int64)
        cpus: set[int] = set()

        def one_pass(i: int) -> rounds.Pass:
            t0 = time.perf_counter()
            part, seen = self.one_pass(pool, dirfd)
            totals[:] += part
            cpus.update(*seen)
            return rounds.Pass(int(part[0]), int(part[2]), time.perf_counter() - t0)

        passes, wall = rounds.timed_repeat(one_pass, min_repeat_s)
        return {**rounds.repeat_record(passes, wall), "bytes": int(totals[1]), "cpus": sorted(cpus)}

    @contextmanager
    def session(self, min_repeat_s: float, warmup: bool = True):
        """Threads and directory held open; yields ``measure(i)``: one timed repeat. One
        untimed pass first (warm caches, threads started)."""
        dirfd = os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="filerate-floor") as pool:
                if warmup:
                    self.one_pass(pool, dirfd)
                yield lambda i: self.repeat(pool, dirfd, min_repeat_s)
        finally:
            os.close(dirfd)

    def measure(self, rule: StoppingRule, min_repeat_s: float) -> dict:
        """Timed repeats chosen by ``rule``, on their own (not interleaved)."""
        with self.session(min_repeat_s) as measure:
            series = rounds.Series("floor", measure, rule)
            rounds.run_rounds([series])
        return record(series, self.threads)


def record(series: rounds.Series, threads: int) -> dict:
    """The floor's record for run.json: its repeats, median files/s with the CI, the CPUs
    its threads ran on (read back inside them)."""
    cpus = set().union(*(r["cpus"] for r in series.records)) if series.records else set()
    return {
        "threads": threads,
        **series.summary(),
        "repeats": series.records,
        "cpus": sorted(cpus),
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
