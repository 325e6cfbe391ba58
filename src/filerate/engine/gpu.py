"""The GPU path: CuPy kernels over one host->device copy per chunk of a batch.

Files are read (and hashed) on the CPU by batchio into a pinned host buffer; the whole
buffer goes to the device in one copy per chunk (a chunk is as much of the batch as the
per-thread device budget allows), one CUDA block per file counts lines, words, non-ASCII
and NUL bytes, and one copy brings the counts back. The semantics equal batchio's and the
reference's; tests compare all three.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from filerate.engine.records import TaskTiming

_SOURCE = r"""
extern "C" __global__
void count_files(const unsigned char* buf, const long long* offsets,
                 const long long* lengths, const long long base, const int n,
                 unsigned long long* out)
{
    const int f = blockIdx.x;
    if (f >= n) return;
    const long long start = offsets[f] - base;
    const long long len = lengths[f];
    unsigned long long nl = 0, wc = 0, na = 0, nz = 0;
    for (long long j = threadIdx.x; j < len; j += blockDim.x) {
        const unsigned char b = buf[start + j];
        nl += (b == 10);
        na += (b >= 128);
        nz += (b == 0);
        const bool ws = (b == 32) || (b >= 9 && b <= 13);
        bool prev_ws = true;  /* the byte before a file counts as whitespace */
        if (j > 0) {
            const unsigned char p = buf[start + j - 1];
            prev_ws = (p == 32) || (p >= 9 && p <= 13);
        }
        wc += (prev_ws && !ws);
    }
    for (int o = 16; o > 0; o >>= 1) {
        nl += __shfl_down_sync(0xffffffff, nl, o);
        wc += __shfl_down_sync(0xffffffff, wc, o);
        na += __shfl_down_sync(0xffffffff, na, o);
        nz += __shfl_down_sync(0xffffffff, nz, o);
    }
    __shared__ unsigned long long acc[4];
    if (threadIdx.x == 0) { acc[0] = 0; acc[1] = 0; acc[2] = 0; acc[3] = 0; }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) {
        atomicAdd(&acc[0], nl); atomicAdd(&acc[1], wc);
        atomicAdd(&acc[2], na); atomicAdd(&acc[3], nz);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        out[f] = acc[0]; out[n + f] = acc[1]; out[2 * n + f] = acc[2]; out[3 * n + f] = acc[3];
    }
}
"""

THREADS_PER_BLOCK = 256
_local = threading.local()
_kernel_lock = threading.Lock()
_kernels: dict[str, object] = {}  # kernel name -> CuPy RawKernel, compiled once per process


def probe() -> dict:
    """Can this process use a GPU? Returns {usable, reason, devices, ...}; never raises."""
    info: dict = {"usable": False}
    try:
        import cupy
    except Exception as exc:  # ImportError, or a broken CUDA install
        info["reason"] = f"CuPy not importable ({type(exc).__name__}: {exc})"
        return info
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        if count < 1:
            info["reason"] = "CUDA reports no devices"
            return info
        # the first kernel is where a missing or too-old driver shows up
        kernel()(
            (1,),
            (32,),
            (
                cupy.zeros(8, cupy.uint8),
                cupy.zeros(1, cupy.int64),
                cupy.zeros(1, cupy.int64),
                np.int64(0),
                np.int32(1),
                cupy.zeros(4, cupy.uint64),
            ),
        )
        cupy.cuda.runtime.deviceSynchronize()
        info["devices"] = [
            cupy.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(count)
        ]
    except Exception as exc:
        info["reason"] = f"CUDA not usable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        return info
    try:
        import dask_cuda  # noqa: F401
    except Exception as exc:
        info["reason"] = f"dask-cuda not importable ({type(exc).__name__}: {exc})"
        return info
    info["usable"] = True
    info["reason"] = f"{count} CUDA device(s), CuPy and dask-cuda usable"
    return info


def raw_kernel(source: str, name: str):
    """The CUDA kernel ``name`` of ``source``, compiled once per process and shared by the
    worker's threads (gpu_full's kernel too)."""
    with _kernel_lock:
        if name not in _kernels:
            import cupy

            _kernels[name] = cupy.RawKernel(source, name)
        return _kernels[name]


def kernel():
    return raw_kernel(_SOURCE, "count_files")


_pinned_pool = None


def pinned_pool():
    """The process's pool of page-locked host buffers (fast, asynchronous copies)."""
    global _pinned_pool
    with _kernel_lock:
        if _pinned_pool is None:
            import cupy

            from filerate.engine.buffers import BufferPool

            def allocate(nbytes: int) -> np.ndarray:
                mem = cupy.cuda.alloc_pinned_memory(nbytes)
                return np.frombuffer(mem, dtype=np.uint8, count=nbytes)

            _pinned_pool = BufferPool(allocate)
        return _pinned_pool


def _device_buffer(nbytes: int):
    import cupy

    held = getattr(_local, "device", None)
    if held is None or held.nbytes < nbytes:
        _local.device = None  # free the old one first
        held = _local.device = cupy.empty(nbytes, dtype=cupy.uint8)
    return held


def _stream():
    import cupy

    stream = getattr(_local, "stream", None)
    if stream is None:
        stream = _local.stream = cupy.cuda.Stream(non_blocking=True)
    return stream


def chunks(offsets: np.ndarray, lengths: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split files into consecutive runs whose slots fit ``budget`` bytes of device memory.

    A file that alone exceeds the budget gets a chunk of its own (the caller sees the
    oversize and records an error rather than running out of device memory).
    """
    ends = offsets + ((lengths + 8) // 8) * 8
    out, first = [], 0
    n = len(offsets)
    while first < n:
        limit = offsets[first] + budget
        last = int(np.searchsorted(ends, limit, side="right"))
        last = max(last, first + 1)
        out.append((first, last))
        first = last
    return out


def count_batch(
    host: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, budget: int
) -> tuple[np.ndarray, TaskTiming]:
    """Counts (4 x n uint64: lines, words, non_ascii, nul) of files laid out in ``host``.

    ``lengths`` of files that must not be counted (errors) are 0. Returns the counts and
    the device's part of the task's timing: seconds in host->device copies (``h2d_s``),
    the kernel (``analyse_s``) and device->host copies (``d2h_s``), and the chunks it
    took. A chunk that runs out of device memory is split in two and retried
    (``gpu_oom_splits``); a single file that still does not fit raises, and its batch is
    recorded as failed.
    """
    n = len(offsets)
    counts = np.zeros((4, n), dtype=np.uint64)
    timing = TaskTiming()
    stream = _stream()
    with stream:
        run_in_chunks(
            offsets,
            lengths,
            budget,
            timing,
            lambda first, last: _count_chunk(
                host, offsets, lengths, first, last, counts, timing, stream
            ),
        )
    return counts, timing


def run_in_chunks(offsets, lengths, budget: int, timing: TaskTiming, run_chunk) -> None:
    """``run_chunk(first, last)`` over the files in chunks of at most ``budget`` bytes. A
    chunk that runs out of device memory is halved and retried (``gpu_oom_splits``); one
    file that still does not fit raises MemoryError. Shared by every GPU kernel's batch."""
    todo = list(reversed(chunks(offsets, lengths, budget)))
    while todo:
        first, last = todo.pop()
        lo, hi = _span(offsets, lengths, first, last)
        if hi - lo > budget:  # only a single file can be larger than the budget
            timing.gpu_oversize_files += last - first
        try:
            run_chunk(first, last)
        except _out_of_memory() as exc:
            _release_device_memory()
            if last - first == 1:
                raise MemoryError(
                    f"one file of {int(lengths[first])} bytes does not fit "
                    f"in the free device memory: {exc}"
                ) from exc
            mid = (first + last) // 2
            todo += [(mid, last), (first, mid)]
            timing.gpu_oom_splits += 1


def _span(offsets, lengths, first, last) -> tuple[int, int]:
    """The bytes [lo, hi) of the host buffer that files [first, last) occupy."""
    return int(offsets[first]), int(offsets[last - 1] + ((lengths[last - 1] + 8) // 8) * 8)


def _count_chunk(host, offsets, lengths, first, last, counts, timing, stream):
    import cupy

    lo, hi = _span(offsets, lengths, first, last)
    t0 = time.perf_counter()
    dev = _device_buffer(hi - lo)
    dev[: hi - lo].set(host[lo:hi], stream=stream)
    d_off = cupy.asarray(offsets[first:last])
    d_len = cupy.asarray(lengths[first:last])
    stream.synchronize()
    t1 = time.perf_counter()
    m = last - first
    d_out = cupy.empty(4 * m, dtype=cupy.uint64)
    kernel()((m,), (THREADS_PER_BLOCK,), (dev, d_off, d_len, np.int64(lo), np.int32(m), d_out))
    stream.synchronize()
    t2 = time.perf_counter()
    counts[:, first:last] = d_out.get(stream=stream).reshape(4, m)
    t3 = time.perf_counter()
    timing.h2d_s += t1 - t0
    timing.analyse_s += t2 - t1
    timing.d2h_s += t3 - t2
    timing.gpu_chunks += 1


def _out_of_memory():
    import cupy

    return cupy.cuda.memory.OutOfMemoryError


def _release_device_memory() -> None:
    """Drop this thread's device buffer and return cached blocks to the device."""
    import cupy

    _local.device = None
    cupy.get_default_memory_pool().free_all_blocks()
