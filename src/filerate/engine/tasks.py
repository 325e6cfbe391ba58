"""The Dask task: analyse one batch of files on whichever worker runs it.

A task receives a small spec (manifest path, data directory, index range, level, device)
rather than the file list: each worker process loads the manifest's path table once and
reuses it. The task returns a records.TaskResult: per-file arrays, each failed file's
error and where its time went.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import threading
import time

import numpy as np

from filerate.engine import batchio, buffers, fullscan
from filerate.engine.records import (
    READER_ERROR_KIND,
    ErrorKind,
    FileError,
    FileStatus,
    TaskResult,
    TaskTiming,
)
from filerate.openflags import READ_FLAGS


def _pool(gpu: bool):
    if gpu:
        from filerate.engine import gpu as gpu_mod

        return gpu_mod.pinned_pool()
    return buffers.host_pool


def _file_errors(dirfd: int, table, start: int, res, max_file_bytes: int) -> dict[int, FileError]:
    """The error of each failed file; only failures reach this (slow path, rare)."""
    errors = {}
    for i in np.flatnonzero(res.status):
        status = FileStatus(int(res.status[i]))
        expected = int(table.sizes[start + i])
        if status == FileStatus.TOO_LARGE:
            detail = f"{expected} bytes > max_file_bytes {max_file_bytes}"
            error = FileError(ErrorKind.TOO_LARGE, detail)
        elif status == FileStatus.OPEN_FAILED:
            error = _open_error(dirfd, table.path_raw[start + i])
        elif status in (FileStatus.GREW, FileStatus.SHRANK):
            detail = f"read {int(res.nbytes[i])} bytes, manifest says {expected}"
            error = FileError(READER_ERROR_KIND[status], detail)
        else:
            error = FileError(READER_ERROR_KIND[status])
        errors[int(i)] = error
    return errors


def _open_error(dirfd: int, path: bytes) -> FileError:
    """Why a file did not open: asked again, since libc's errno is not visible from the
    compiled loop."""
    try:
        os.close(os.open(path, READ_FLAGS, dir_fd=dirfd))
        return FileError(ErrorKind.OPEN_TRANSIENT)
    except OSError as exc:
        kind = ErrorKind.VANISHED if exc.errno == errno.ENOENT else ErrorKind.OPEN_FAILED
        return FileError(kind, str(exc.strerror))


def inject_fault(fault: dict | list, start: int, phase: str | None = None) -> None:
    """Fault injection for the reliability tests (docs/RELIABILITY.md); never set in runs.

    ``fault`` (the spec's ``_test_fault``, from the phase settings' ``_test_fault`` or the
    ``FILERATE_TEST_FAULT`` environment variable; a list applies each) holds ``action``:
    ``exit`` (the worker process dies), ``raise`` (the task raises) or ``sleep``
    (``seconds``); optionally ``start`` (only the batch starting at that manifest row),
    ``phase`` (only in that phase) and ``once`` (a marker file: the fault fires only for
    the task that creates it).
    """
    if isinstance(fault, list):
        for f in fault:
            inject_fault(f, start, phase)
        return
    if fault.get("start") is not None and fault["start"] != start:
        return
    if fault.get("phase") is not None and fault["phase"] != phase:
        return
    if fault.get("once"):
        try:
            os.close(os.open(fault["once"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return
    action = fault["action"]
    if action == "exit":
        os._exit(70)  # the whole worker process, as a crash or the OOM killer would
    if action == "raise":
        raise RuntimeError(f"injected fault in the batch starting at row {start}")
    if action == "sleep":
        time.sleep(float(fault["seconds"]))


def analyse_batch(spec: dict) -> TaskResult:
    """Read and analyse files [start, stop) of the manifest; see docs/DATA.md."""
    if spec.get("_test_fault"):
        inject_fault(spec["_test_fault"], spec["start"], spec.get("phase"))
    t_start = time.time()
    p0 = time.perf_counter()
    table = batchio.file_table(spec["manifest"])
    start, stop = spec["start"], spec["stop"]
    sizes = table.sizes[start:stop]
    skip = sizes > spec["max_file_bytes"]
    use_gpu = spec["device"] == "gpu"
    full = spec["analysis"] == "full"
    light = spec["analysis"] in ("light", "full")  # full is everything in light, and more
    # the GPU, and full analysis, work on the batch after it is read, so each file needs a
    # slot of its own; otherwise a file's bytes are done with before the next is read
    layout = batchio.slot_layout if use_gpu or full else batchio.reused_slot
    offsets, nbytes = layout(sizes, skip)
    dirfd = os.open(spec["data_dir"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        with _pool(use_gpu).borrow(nbytes) as buf:
            p1 = time.perf_counter()
            count_on_cpu = light and not use_gpu
            res = batchio.read_batch(
                dirfd, table, start, stop, buf, offsets, skip, count_on_cpu, classify=light
            )
            p2 = time.perf_counter()
            timing = TaskTiming()
            if full:
                extra, timing = _full_analysis(spec, res, buf, offsets, sizes, use_gpu)
            elif use_gpu and light:  # minimal analysis needs no device work
                timing = _count_on_gpu(res, buf, offsets, sizes, spec["gpu_budget_bytes"])
            p3 = time.perf_counter()
        errors = _file_errors(dirfd, table, start, res, spec["max_file_bytes"])
    finally:
        os.close(dirfd)
    out = TaskResult(start, stop, res.status, res.nbytes, res.hashes, errors=errors)
    out.latency, out.latency_max = res.latency, res.latency_max
    if light:
        out.lines, out.words, out.non_ascii = (c.astype(np.int64) for c in res.counts[:3])
        out.type = res.types
    if full:
        out.entropy, out.signature = extra
    p4 = time.perf_counter()
    out.timing = _timing(res.spent_ns, timing, p0, p1, p2, p3, p4)
    out.device = f"gpu:{_gpu_id()}" if use_gpu else "cpu"
    out.worker = _worker_address()
    out.pid = os.getpid()
    out.thread = threading.get_ident()
    out.t_start = t_start
    out.t_stop = t_start + (time.perf_counter() - p0)
    return out.summary_only() if spec.get("summary_only") else out


def _count_on_gpu(res, buf, offsets, sizes, budget: int) -> TaskTiming:
    """Count the files read ok on the device; their counts and binary types go in ``res``."""
    from filerate.engine import gpu as gpu_mod

    lengths = np.where(res.status == FileStatus.OK, sizes, 0)
    res.counts, timing = gpu_mod.count_batch(buf, offsets, lengths, budget)
    res.types = np.where(res.counts[3] > 0, batchio.BINARY_TYPE, res.types).astype(np.int8)
    return timing


def _full_analysis(spec, res, buf, offsets, sizes, use_gpu: bool):
    """``full`` analysis of the files read ok: ((entropy, signatures), device timing).

    On the GPU one copy of each chunk serves the counts, histograms and signatures."""
    lengths = np.where(res.status == FileStatus.OK, sizes, 0)
    params = spec["minhash"]
    if use_gpu:
        from filerate.engine import gpu_full

        res.counts, full, timing = gpu_full.full_batch(
            buf, offsets, lengths, params, spec["gpu_budget_bytes"]
        )
        res.types = np.where(res.counts[3] > 0, batchio.BINARY_TYPE, res.types).astype(np.int8)
    else:
        full = fullscan.full_batch(buf, offsets, lengths, params["shingle_bytes"], params["hashes"])
        timing = TaskTiming(analyse_s=float(full.spent_ns.sum()) / 1e9)
    return (fullscan.entropy(full.hist), full.sig), timing


def _timing(spent_ns, device: TaskTiming, p0, p1, p2, p3, p4) -> TaskTiming:
    """Where the task's time went, from its clock marks and the device's timing.

    The compiled loop times its own parts per file: system calls, hashing, counting
    (counting runs right after each read, while the bytes are still in cache).
    """
    syscall_s, hash_s, count_s = (spent_ns / 1e9).tolist()
    loop_overhead_s = max(0.0, (p2 - p1) - syscall_s - hash_s - count_s)
    return dataclasses.replace(
        device,
        setup_s=p1 - p0,
        read_s=syscall_s + loop_overhead_s,
        hash_s=hash_s,
        analyse_s=count_s + device.analyse_s,
        pack_s=p4 - p3,
    )


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # running outside a Dask worker (tests, local mode)
        return "local"


def _gpu_id() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0")
    return visible.split(",")[0]


def warm_worker(device: str, manifest: str | None = None) -> dict:
    """Prepare a worker process before timing: compile the kernels and load the
    manifest's path table (once per process), so no timed repeat pays for either on a
    worker that the warm-up repeat happened not to use. Returns the seconds each took,
    and the CPUs this worker may run on (read back here, inside the worker)."""
    t0 = time.perf_counter()
    batchio.warm_up()
    fullscan.warm_up()
    out = {"cpu_kernels_s": time.perf_counter() - t0, "cpus": sorted(os.sched_getaffinity(0))}
    if manifest:
        t0 = time.perf_counter()
        batchio.file_table(manifest)
        out["file_table_s"] = time.perf_counter() - t0
    if device == "gpu":
        from filerate.engine import gpu as gpu_mod

        t0 = time.perf_counter()
        info = gpu_mod.probe()
        out["gpu_kernel_s"] = time.perf_counter() - t0
        out["gpu"] = info
    return out
