"""The CPU hot path: read a batch of files into one buffer, hash and count them.

Everything per file happens inside one compiled (numba, nogil) loop that calls libc's
openat/read/close and xxhash's XXH3_64bits directly, so a batch costs three system calls
per file and no Python work per file; worker threads run it in parallel without the GIL.

Buffer layout: file i occupies ``buf[offsets[i] : offsets[i] + sizes[i]]``; offsets are
8-byte aligned and the gap up to the next slot is filled with spaces, so the counting
kernel can work on 64-bit words (SWAR) without changing any count (a space is not a
newline, not non-ASCII, not NUL and cannot start a word).
"""

from __future__ import annotations

import os
import threading
import time

import numba
import numpy as np
import pandas as pd

from filerate.engine import latency, libc, textcount
from filerate.engine.records import FileStatus
from filerate.openflags import READ_FLAGS
from filerate.reference import EXTENSIONS, TYPE_CODES

# the C functions, by symbol name (engine.libc), so the compiled loops are cached on disk
_openat, _read, _close = libc.openat, libc.read, libc.close
_clock_gettime, _xxh3 = libc.clock_gettime, libc.xxh3_64

# The compiled loop freezes globals when it compiles: plain ints, taken from the one
# definition of each (records.FileStatus, reference.TYPE_CODES, openflags.READ_FLAGS).
_OK = int(FileStatus.OK)
_OPEN_FAILED = int(FileStatus.OPEN_FAILED)
_READ_FAILED = int(FileStatus.READ_FAILED)
_GREW = int(FileStatus.GREW)
_SHRANK = int(FileStatus.SHRANK)
_TOO_LARGE = int(FileStatus.TOO_LARGE)
_OTHER_TYPE = TYPE_CODES["other"]
BINARY_TYPE = TYPE_CODES["binary"]
_CLOCK_MONOTONIC = time.CLOCK_MONOTONIC
_SLASH = ord("/")
_DOT = ord(".")
_SPACE = ord(" ")
_MAX_READ = 0x7FFFF000  # Linux returns at most this from one read (MAX_RW_COUNT)
# reference.EXTENSIONS for the compiled matcher: extension bytes (no dot) NUL-padded to
# one width, their lengths and type codes
_EXT_WIDTH = max(len(ext) - 1 for ext in EXTENSIONS)
_EXT_BYTES = np.array(
    [list(ext[1:].ljust(_EXT_WIDTH, b"\0")) for ext in EXTENSIONS], dtype=np.uint8
)
_EXT_LENS = np.array([len(ext) - 1 for ext in EXTENSIONS], dtype=np.int64)
_EXT_CODES = np.array([TYPE_CODES[name] for name in EXTENSIONS.values()], dtype=np.int8)


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _type_code(names, start, ext_bytes, ext_lens, ext_codes):
    """Type code from the extension of a NUL-terminated relative path (see
    reference.extension)."""
    end = start
    while names[end] != 0:
        end += 1
    dot = -1
    j = end - 1
    while j >= start and names[j] != _SLASH:
        if names[j] == _DOT and dot < 0:
            dot = j
        j -= 1
    base = j + 1
    if dot <= base:  # no dot, or a leading dot only ('.bashrc')
        return _OTHER_TYPE
    n = end - dot - 1
    for e in range(ext_lens.shape[0]):
        if ext_lens[e] == n:
            same = True
            for c in range(n):
                if names[dot + 1 + c] != ext_bytes[e, c]:
                    same = False
                    break
            if same:
                return ext_codes[e]
    return _OTHER_TYPE


@numba.njit(inline="always")
def _now_ns(ts):
    _clock_gettime(_CLOCK_MONOTONIC, ts.ctypes.data)  # through the vDSO: ~20 ns
    return ts[0] * 1_000_000_000 + ts[1]


@numba.njit(inline="always")
def _read_fd(fd, dst, want):
    """Read up to ``want`` bytes from ``fd`` to the address ``dst``; -1 on a failed read.

    ``want`` is the manifest's size plus the probe byte. A regular file's read that
    returns fewer bytes than asked has reached the end of the file, so a read that stops
    exactly one byte short (the size the manifest expects) ends the file without the
    further read that would return 0: three system calls per file, not four. Any other
    short read (a file that shrank, a file system that returns short reads, Linux's cap
    on one read) is followed by reads until 0, as before.
    """
    got = 0
    while got < want:
        r = _read(fd, dst + got, want - got)
        if r < 0:
            return -1
        if r == 0:
            break
        got += r
        if got == want - 1 and r < _MAX_READ:
            break
    return got


@numba.njit(inline="always")
def _timed_read(dirfd, path, dst, want, ts, lat_hist, lat_max):
    """Open, read (up to ``want`` bytes to the address ``dst``) and close one file, each
    timed into the latency histograms. Returns the bytes read (-1: a read failed, -2: the
    open failed) and the clock before the open and after the close."""
    t0 = _now_ns(ts)
    fd = _openat(dirfd, path, READ_FLAGS)
    t_open = _now_ns(ts)
    latency.record(lat_hist, lat_max, latency.OPEN, t_open - t0)
    if fd < 0:
        return -2, t0, t_open
    got = _read_fd(fd, dst, want)
    t_read = _now_ns(ts)
    _close(fd)
    t1 = _now_ns(ts)
    latency.record(lat_hist, lat_max, latency.READ, t_read - t_open)
    latency.record(lat_hist, lat_max, latency.CLOSE, t1 - t_read)
    return got, t0, t1


@numba.njit(inline="always")
def _pad_slot(buf, start, got):
    """Fill a file's slot with spaces up to the next 8-byte boundary (over the probe
    byte); returns where the slot's counted words end."""
    stop = (start + got + 7) & ~7
    for j in range(start + got, stop):
        buf[j] = _SPACE
    return stop


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _read_batch(
    dirfd,
    names,
    name_offsets,
    sizes,
    offsets,
    skip,
    buf,
    count,
    classify,
    status,
    nbytes,
    hashes,
    counts,
    types,
    ext_bytes,
    ext_lens,
    ext_codes,
    spent,
    lat_hist,
    lat_max,
):
    """Read, hash and (if count) analyse every file of the batch; fills the out arrays.

    ``spent`` accumulates nanoseconds in system calls (open/read/close), hashing and
    counting, measured per file with the monotonic clock; the same clock readings fill
    the latency histograms (engine.latency) of open, read, close, hash and count.
    """
    base = buf.ctypes.data
    nptr = names.ctypes.data
    ts = np.zeros(2, dtype=np.int64)
    for i in range(sizes.shape[0]):
        if classify:  # the type is reported from light up: minimal skips the lookup
            types[i] = _type_code(names, name_offsets[i], ext_bytes, ext_lens, ext_codes)
        if skip[i]:
            status[i] = _TOO_LARGE
            continue
        # one byte more than expected: detects a file that grew
        got, t0, t1 = _timed_read(
            dirfd, nptr + name_offsets[i], base + offsets[i], sizes[i] + 1, ts, lat_hist, lat_max
        )
        if got == -2:
            status[i] = _OPEN_FAILED
            continue
        spent[0] += t1 - t0
        if got < 0:
            status[i] = _READ_FAILED
            continue
        nbytes[i] = got
        if got != sizes[i]:
            status[i] = _GREW if got > sizes[i] else _SHRANK
            continue
        status[i] = _OK
        _hash_and_count(
            buf, offsets[i], got, i, t1, count, hashes, counts, types, spent, ts, lat_hist, lat_max
        )


@numba.njit(inline="always")
def _hash_and_count(
    buf, start, got, i, t1, count, hashes, counts, types, spent, ts, lat_hist, lat_max
):
    """Hash file i's bytes (read at ``t1``), pad its slot and, if ``count``, count them while
    they are still in cache; the time of each goes to ``spent`` and the latency histograms."""
    hashes[i] = _xxh3(buf.ctypes.data + start, got)
    t2 = _now_ns(ts)
    spent[1] += t2 - t1
    latency.record(lat_hist, lat_max, latency.HASH, t2 - t1)
    stop = _pad_slot(buf, start, got)
    if count:
        textcount.count_slot(buf, start, stop - start, counts, i)
        if counts[3, i] > 0:  # holds a NUL byte
            types[i] = BINARY_TYPE
        t3 = _now_ns(ts)
        spent[2] += t3 - t2
        latency.record(lat_hist, lat_max, latency.COUNT, t3 - t2)


class FileTable:
    """A manifest's paths and sizes as flat arrays, ready for the compiled reader."""

    def __init__(self, path_raw: list[bytes], sizes: np.ndarray):
        blob = b"\0".join(path_raw) + b"\0"
        # writable copies: numba compiles a separate (slow-to-build) specialisation for
        # read-only arrays, which pandas/pyarrow and frombuffer hand out
        self.names = np.frombuffer(blob, dtype=np.uint8).copy()
        lengths = np.fromiter((len(p) + 1 for p in path_raw), dtype=np.int64, count=len(path_raw))
        self.name_offsets = np.zeros(len(path_raw), dtype=np.int64)
        np.cumsum(lengths[:-1], out=self.name_offsets[1:])
        self.sizes = np.array(sizes, dtype=np.int64, copy=True)
        self.path_raw = path_raw

    def __len__(self) -> int:
        return len(self.sizes)

    @classmethod
    def from_manifest(cls, manifest_path: str) -> FileTable:
        frame = pd.read_parquet(manifest_path, columns=["path_raw", "bytes"])
        return cls(list(frame["path_raw"]), frame["bytes"].to_numpy())


_tables: dict[tuple, FileTable] = {}
_tables_lock = threading.Lock()


def file_table(manifest_path: str) -> FileTable:
    """The FileTable of a manifest, loaded once per process (keyed by path and mtime)."""
    st = os.stat(manifest_path)
    key = (os.path.abspath(manifest_path), st.st_mtime_ns, st.st_size)
    with _tables_lock:
        table = _tables.get(key)
        if table is None:
            table = _tables[key] = FileTable.from_manifest(manifest_path)
        return table


#: a slot never starts 1 to ALIASING - 1 bytes into a page: the kernel's copy into it from
#: the page cache (where the file starts at offset 0) runs at half speed there (see
#: buffers.aligned_empty); the window measured was 1-31 bytes, 64 leaves a margin
ALIASING = 64


@numba.njit(cache=True)
def _place_slots(room, offsets):
    """Offsets of consecutive slots of ``room`` bytes (multiples of 8), each moved past the
    aliasing window at the start of a page; returns the end of the last."""
    at = 0
    for i in range(room.shape[0]):
        into_page = at & 4095
        if 0 < into_page < ALIASING:
            at += ALIASING - into_page
        offsets[i] = at
        at += room[i]
    return at


def slot_layout(sizes: np.ndarray, skip: np.ndarray) -> tuple[np.ndarray, int]:
    """8-byte aligned offsets of each file's slot, and the buffer size needed (for a
    page-aligned buffer: buffers.aligned_empty)."""
    room = ((np.where(skip, 0, sizes) + 8) // 8) * 8  # +1 probe byte, rounded up
    offsets = np.zeros(len(sizes), dtype=np.int64)
    end = _place_slots(room.astype(np.int64), offsets) if len(sizes) else 8
    return offsets, int(end) + 8


def reused_slot(sizes: np.ndarray, skip: np.ndarray) -> tuple[np.ndarray, int]:
    """One slot at offset 0 for every file, and the buffer size it needs (as slot_layout
    sizes a slot). For the CPU path, which hashes and counts each file as soon as it is
    read and keeps none of its bytes: every file then lands in the same few cache-hot
    kilobytes, as in the C floor, instead of streaming the whole batch through memory.
    Offset 0 of a page-aligned buffer is outside the aliasing window (slot_layout)."""
    offsets = np.zeros(len(sizes), dtype=np.int64)
    largest = int(np.where(skip, 0, sizes).max()) if len(sizes) else 0
    return offsets, (largest + 8) // 8 * 8 + 8


class BatchResult:
    """Per-file arrays of one batch (analysis fields are filled when counted)."""

    def __init__(self, n: int):
        self.status = np.zeros(n, dtype=np.int8)
        self.nbytes = np.zeros(n, dtype=np.int64)
        self.hashes = np.zeros(n, dtype=np.uint64)
        self.counts = np.zeros((4, n), dtype=np.uint64)  # lines, words, non_ascii, nul
        self.types = np.zeros(n, dtype=np.int8)
        self.spent_ns = np.zeros(3, dtype=np.int64)  # syscalls, hashing, counting
        self.latency, self.latency_max = latency.new()  # per-operation histograms (ns)


def read_batch(
    dirfd: int,
    table: FileTable,
    start: int,
    stop: int,
    buf: np.ndarray,
    offsets: np.ndarray,
    skip: np.ndarray,
    count: bool,
    classify: bool = True,
) -> BatchResult:
    """Read files [start, stop) of ``table`` into ``buf`` at ``offsets`` (see slot_layout);
    ``count``: count lines, words and non-ASCII bytes here; ``classify``: look up each
    file's type from its name (``light`` and up, on either device)."""
    n = stop - start
    res = BatchResult(n)
    _read_batch(
        dirfd,
        table.names,
        table.name_offsets[start:stop],
        table.sizes[start:stop],
        offsets,
        skip,
        buf,
        count,
        classify,
        res.status,
        res.nbytes,
        res.hashes,
        res.counts,
        res.types,
        _EXT_BYTES,
        _EXT_LENS,
        _EXT_CODES,
        res.spent_ns,
        res.latency,
        res.latency_max,
    )
    return res


def warm_up() -> float:
    """Compile the kernels in this process; returns the seconds it took."""
    import tempfile

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "a.txt"), "wb") as fh:
            fh.write(b"warm up\n")
        table = FileTable([b"a.txt"], np.array([8]))
        skip = np.zeros(1, dtype=bool)
        offsets, size = slot_layout(table.sizes, skip)
        dirfd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        try:
            read_batch(dirfd, table, 0, 1, np.empty(size, np.uint8), offsets, skip, True)
        finally:
            os.close(dirfd)
    return time.perf_counter() - t0
