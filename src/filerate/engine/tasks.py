"""The Dask task: analyse one batch of files on whichever worker runs it.

A task receives a small spec (manifest path, data directory, index range, level, device)
rather than the file list: each worker process loads the manifest's path table once and
reuses it. The task returns per-file arrays and where its time went.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from filerate.engine import batchio, buffers

REASONS = {
    batchio.OPEN_FAILED: "open failed",
    batchio.READ_FAILED: "read failed",
    batchio.GREW: "changed since manifest (grew)",
    batchio.SHRANK: "changed since manifest (shrank)",
    batchio.TOO_LARGE: "too large",
}


def _pool(gpu: bool):
    if gpu:
        from filerate.engine import gpu as gpu_mod

        return gpu_mod.pinned_pool()
    return buffers.host_pool


def _error_reasons(dirfd: int, table, start: int, res, max_file_bytes: int) -> dict[int, str]:
    """One line per failed file; only failures reach this (slow path, rare)."""
    reasons = {}
    for i in np.flatnonzero(res.status):
        code = int(res.status[i])
        path = table.path_raw[start + i]
        reason = REASONS[code]
        if code == batchio.TOO_LARGE:
            reason = (
                f"too large: {int(table.sizes[start + i])} bytes > max_file_bytes {max_file_bytes}"
            )
        elif code == batchio.OPEN_FAILED:
            try:  # ask again to learn errno; libc's errno is not visible from the kernel
                os.close(os.open(path, batchio.OPEN_FLAGS, dir_fd=dirfd))
                reason = "open failed (transient)"
            except OSError as exc:
                name = "vanished" if exc.errno == 2 else "open failed"
                reason = f"{name}: {exc.strerror}"
        elif code in (batchio.GREW, batchio.SHRANK):
            expected = int(table.sizes[start + i])
            reason = f"{reason}: read {int(res.nbytes[i])} bytes, manifest says {expected}"
        reasons[int(i)] = reason
    return reasons


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


def analyse_batch(spec: dict) -> dict:
    """Read and analyse files [start, stop) of the manifest; see docs/DATA.md."""
    if spec.get("_test_fault"):
        inject_fault(spec["_test_fault"], spec["start"], spec.get("phase"))
    t_start = time.time()
    p0 = time.perf_counter()
    table = batchio.file_table(spec["manifest"])
    start, stop = spec["start"], spec["stop"]
    sizes = table.sizes[start:stop]
    skip = sizes > spec["max_file_bytes"]
    offsets, nbytes = batchio.slot_layout(sizes, skip)
    use_gpu = spec["device"] == "gpu"
    count_on_cpu = spec["analysis"] == "light" and not use_gpu
    dirfd = os.open(spec["data_dir"], os.O_RDONLY | os.O_DIRECTORY)
    try:
        with _pool(use_gpu).borrow(nbytes) as buf:
            p1 = time.perf_counter()
            res = batchio.read_batch(dirfd, table, start, stop, buf, offsets, skip, count_on_cpu)
            p2 = time.perf_counter()
            timing = {"h2d_s": 0.0, "analyse_s": 0.0, "d2h_s": 0.0}
            device = "cpu"
            if use_gpu and spec["analysis"] == "light":
                from filerate.engine import gpu as gpu_mod

                lengths = np.where(res.status == 0, sizes, 0)
                counts, timing = gpu_mod.count_batch(
                    buf, offsets, lengths, spec["gpu_budget_bytes"]
                )
                res.counts = counts
                res.types = np.where(counts[3] > 0, batchio.BINARY_CODE, res.types).astype(np.int8)
                device = f"gpu:{_gpu_id()}"
            elif use_gpu:
                device = f"gpu:{_gpu_id()}"  # minimal analysis needs no device work
            p3 = time.perf_counter()
        reasons = (
            _error_reasons(dirfd, table, start, res, spec["max_file_bytes"])
            if res.status.any()
            else {}
        )
    finally:
        os.close(dirfd)
    light = spec["analysis"] == "light"
    out = {
        "start": start,
        "stop": stop,
        "status": res.status,
        "bytes": res.nbytes,
        "hash": res.hashes,
        "lines": res.counts[0].astype(np.int64) if light else None,
        "words": res.counts[1].astype(np.int64) if light else None,
        "non_ascii": res.counts[2].astype(np.int64) if light else None,
        "type": res.types if light else None,
        "reasons": reasons,
    }
    p4 = time.perf_counter()
    # The compiled loop times its own parts per file: system calls, hashing, counting
    # (counting runs right after each read, while the bytes are still in cache).
    syscall_s, hash_s, count_s = (res.spent_ns / 1e9).tolist()
    loop_overhead_s = max(0.0, (p2 - p1) - syscall_s - hash_s - count_s)
    out["timing"] = {
        "setup_s": (p1 - p0),
        "read_s": syscall_s + loop_overhead_s,
        "hash_s": hash_s,
        "h2d_s": timing["h2d_s"],
        "analyse_s": count_s + timing["analyse_s"],
        "d2h_s": timing["d2h_s"],
        "pack_s": (p4 - p3),
    }
    out["worker"] = _worker_address()
    out["pid"] = os.getpid()
    out["thread"] = threading.get_ident()
    out["device"] = device
    out["t_start"] = t_start
    out["t_stop"] = t_start + (time.perf_counter() - p0)
    return out


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
    worker that the warm-up repeat happened not to use. Returns the seconds each took."""
    out = {"cpu_kernels_s": batchio.warm_up()}
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
