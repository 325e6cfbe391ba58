"""Page-cache state of a corpus: evict it, and verify how much of it stayed resident.

Eviction methods (recorded with every cold repeat):

- ``drop_caches``: ``sync`` then ``3`` into /proc/sys/vm/drop_caches: data pages, dentries
  and inodes of the whole machine, so ``open`` pays for metadata too. Needs root and a
  writable /proc/sys; it also empties every other user's cache, so it is never the default.
- ``fadvise``: ``posix_fadvise(POSIX_FADV_DONTNEED)`` on every file of the corpus, as
  fio's ``invalidate=1`` does: only the corpus's data pages; dentries and inodes stay cached.
- ``auto``: ``drop_caches`` where permitted (checked by trying), else ``fadvise``.

Verification: ``mincore()`` over an ``mmap`` of each sampled file (at least
:data:`MIN_SAMPLE` files, or all) counts the resident pages. A corpus on tmpfs cannot be
evicted (its pages are the files) and is reported "not cold".

Both per-file loops run compiled (numba, nogil) through libc, like the reader in
:mod:`filerate.engine.batchio`: no Python work per file.
"""

from __future__ import annotations

import ctypes
import os
import time

import numba
import numpy as np

from filerate.engine import disk, libc
from filerate.openflags import READ_FLAGS

DROP_CACHES = "/proc/sys/vm/drop_caches"
METHODS = ("fadvise", "drop_caches", "auto")
MIN_SAMPLE = 1000
#: a repeat counts as cold when at most this share of the sampled pages is resident
COLD_MAX_RESIDENT = 0.02
POSIX_FADV_DONTNEED = 4  # Linux
PAGE = os.sysconf("SC_PAGE_SIZE")
_CHUNK_PAGES = 1 << 16  # mincore() vector per call: 256 MiB of file with 4 KiB pages

# syncfs is called from Python; the compiled loops call filerate.engine.libc
_syncfs = ctypes.CDLL(None, use_errno=True).syncfs
_syncfs.argtypes = [ctypes.c_int]
_syncfs.restype = ctypes.c_int
_openat, _close, _fadvise = libc.openat, libc.close, libc.posix_fadvise
_mmap, _munmap, _mincore = libc.mmap, libc.munmap, libc.mincore

OPEN_FLAGS = READ_FLAGS
PROT_READ, MAP_SHARED = 1, 1


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _fadvise_all(dirfd, names, name_offsets, index, failed):
    """DONTNEED on files ``index`` of a path table; failed[k] = 1 where it could not."""
    nptr = names.ctypes.data
    for k in range(index.shape[0]):
        fd = _openat(dirfd, nptr + name_offsets[index[k]], OPEN_FLAGS)
        if fd < 0:
            failed[k] = 1
            continue
        if _fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0:
            failed[k] = 1
        _close(fd)


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _resident_pages(dirfd, names, name_offsets, sizes, index, vec, page, out):
    """out[k] = (pages, resident pages) of file index[k]; pages = -1 if it cannot be read."""
    nptr = names.ctypes.data
    vptr = vec.ctypes.data
    for k in range(index.shape[0]):
        i = index[k]
        length = sizes[i]
        pages = (length + page - 1) // page
        out[k, 0] = pages
        out[k, 1] = 0
        if length == 0:
            continue
        fd = _openat(dirfd, nptr + name_offsets[i], OPEN_FLAGS)
        if fd < 0:
            out[k, 0] = -1
            continue
        addr = _mmap(0, length, PROT_READ, MAP_SHARED, fd, 0)
        _close(fd)
        if addr == -1:
            out[k, 0] = -1
            continue
        resident = 0
        done = 0
        while done < pages:
            n = min(pages - done, vec.shape[0])
            if _mincore(addr + done * page, n * page, vptr) != 0:
                resident = -1
                break
            for j in range(n):
                resident += vec[j] & 1
            done += n
        _munmap(addr, length)
        if resident < 0:
            out[k, 0] = -1
        else:
            out[k, 1] = resident


def sample_index(n: int, sample: int = MIN_SAMPLE) -> np.ndarray:
    """Evenly spread rows to verify: all of them when n <= max(sample, MIN_SAMPLE)."""
    sample = max(sample, MIN_SAMPLE)
    if n <= sample:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, sample).astype(np.int64))


def _open_dir(data_dir: str | os.PathLike) -> int:
    return os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)


def resident_share(data_dir, table, sample: int = MIN_SAMPLE) -> dict:
    """Share of the sampled files' pages that are in the page cache, via mincore()."""
    index = sample_index(len(table), sample)
    out = np.zeros((len(index), 2), dtype=np.int64)
    vec = np.zeros(_CHUNK_PAGES, dtype=np.uint8)
    dirfd = _open_dir(data_dir)
    try:
        _resident_pages(dirfd, table.names, table.name_offsets, table.sizes, index, vec, PAGE, out)
    finally:
        os.close(dirfd)
    readable = out[:, 0] >= 0
    pages = int(out[readable, 0].sum())
    resident = int(out[readable, 1].sum())
    return {
        "sampled_files": int(len(index)),
        "unreadable_files": int((~readable).sum()),
        "pages": pages,
        "resident_pages": resident,
        "resident_share": resident / pages if pages else 0.0,
    }


def fadvise_evict(data_dir, table) -> dict:
    """posix_fadvise(DONTNEED) on every file of ``table`` (after syncing its filesystem,
    since dirty pages cannot be dropped)."""
    index = np.arange(len(table), dtype=np.int64)
    failed = np.zeros(len(table), dtype=np.int8)
    dirfd = _open_dir(data_dir)
    try:
        _syncfs(dirfd)
        _fadvise_all(dirfd, table.names, table.name_offsets, index, failed)
    finally:
        os.close(dirfd)
    return {"files": len(table), "failed": int(failed.sum())}


def drop_caches() -> str | None:
    """sync, then 3 > drop_caches. Returns None on success, else why it was refused."""
    if os.geteuid() != 0:
        return "not root"
    os.sync()
    try:
        with open(DROP_CACHES, "w") as fh:
            fh.write("3\n")
    except OSError as exc:
        return f"{DROP_CACHES}: {exc.strerror or exc}"
    return None


def evict(data_dir, table, method: str = "fadvise", sample: int = MIN_SAMPLE) -> dict:
    """Evict the corpus at ``data_dir`` (``table``: its path table) and verify it.

    Returns the record kept per cold repeat: the method used (and why another was not),
    what the eviction cleared, its seconds, the resident share measured afterwards and
    whether the corpus is now cold (``cold``); ``note`` says what stayed cached.
    """
    if method not in METHODS:
        raise ValueError(f"eviction method {method!r}: choose one of {', '.join(METHODS)}")
    mount = disk.mount_of(data_dir)
    rec = {"requested": method, "fs_type": mount.fs_type, "mount": mount.mount_point}
    t0 = time.perf_counter()
    used, refused = method, None
    if method in ("drop_caches", "auto"):
        refused = drop_caches()
        if refused:
            used = "fadvise"
            rec["drop_caches_refused"] = refused
        else:
            used = "drop_caches"
    if used == "fadvise":
        rec["fadvise"] = fadvise_evict(data_dir, table)
    rec["method"] = used
    rec["evict_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    rec.update(resident_share(data_dir, table, sample))
    rec["verify_s"] = time.perf_counter() - t1
    rec["cold"] = rec["resident_share"] <= COLD_MAX_RESIDENT and not mount.in_memory
    rec["note"] = _note(rec, mount, refused)
    return rec


def _note(rec: dict, mount: disk.Mount, refused: str | None) -> str:
    if mount.in_memory:
        return (
            f"not cold: the corpus is on {mount.fs_type} ({mount.mount_point}), whose pages "
            "are the files themselves; nothing can be evicted"
        )
    if not rec["cold"]:
        return (
            f"not cold: {rec['resident_share']:.0%} of the sampled pages stayed resident "
            f"after {rec['method']}"
        )
    if rec["method"] == "drop_caches":
        return "cold: page cache, dentries and inodes dropped (whole machine)"
    why = f" (drop_caches refused: {refused})" if refused else ""
    return f"cold data pages{why}; dentries and inodes stayed cached, so open() is warm"


def state(data_dir, table, sample: int = MIN_SAMPLE) -> dict:
    """The cache state of a warm repeat, measured the same way (no eviction)."""
    mount = disk.mount_of(data_dir)
    rec = {"requested": None, "method": None, "fs_type": mount.fs_type}
    rec.update(resident_share(data_dir, table, sample))
    rec["cold"] = False
    return rec
