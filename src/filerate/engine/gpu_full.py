"""`full` analysis on the GPU: the light counts, byte histograms and MinHash signatures.

One host->device copy per chunk of the pinned batch buffer (gpu.py's chunking and
device budget) serves three things: gpu.py's counting kernel, then this module's kernel,
one CUDA block per file, which builds the file's 256-bin histogram in shared memory and its
MinHash signature. The hash family is engine.fullscan's (32-bit FNV-1a shingles, then
``(a * x + b) mod 2^64 >> 32``), in 32- and 64-bit unsigned arithmetic, so the results are
bit-identical to the CPU's; tests compare them.

Signature: the hash functions are taken 32 at a time; each thread keeps 32 running minima
in registers over its shingles (a shingle's FNV hash is recomputed per group: k byte loads
are cheaper than keeping them), a warp reduces them with shuffles, and one lane per warp
folds them into the block's minima in shared memory with atomicMin.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from filerate.engine import fullscan, gpu
from filerate.engine.records import TaskTiming

_SOURCE = r"""
#define GROUP 32
extern "C" __global__
void full_files(const unsigned char* buf, const long long* offsets,
                const long long* lengths, const long long base, const int n,
                const int k, const unsigned long long* ab, const int hashes,
                unsigned int* hist_out, unsigned int* sig_out)
{
    extern __shared__ unsigned long long coef[];      /* a[0..H), b[0..H) */
    unsigned int* sig = (unsigned int*)(coef + 2 * hashes);
    __shared__ unsigned int hist[256];
    const int f = blockIdx.x;
    if (f >= n) return;
    const long long start = offsets[f] - base;
    const long long len = lengths[f];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
    for (int i = threadIdx.x; i < 2 * hashes; i += blockDim.x) coef[i] = ab[i];
    for (int i = threadIdx.x; i < hashes; i += blockDim.x) sig[i] = 0xFFFFFFFFu;
    __syncthreads();
    for (long long j = threadIdx.x; j < len; j += blockDim.x) atomicAdd(&hist[buf[start + j]], 1u);
    const long long width = len < k ? len : k;
    const long long m = len > 0 ? len - width + 1 : 0;
    for (int h0 = 0; h0 < hashes; h0 += GROUP) {
        unsigned int best[GROUP];
        #pragma unroll
        for (int g = 0; g < GROUP; g++) best[g] = 0xFFFFFFFFu;
        for (long long p = threadIdx.x; p < m; p += blockDim.x) {
            unsigned int x = 2166136261u;
            for (int j = 0; j < width; j++) x = (x ^ buf[start + p + j]) * 16777619u;
            #pragma unroll
            for (int g = 0; g < GROUP; g++) {
                if (h0 + g < hashes) {
                    const unsigned long long v =
                        (coef[h0 + g] * (unsigned long long)x + coef[hashes + h0 + g]) >> 32;
                    if ((unsigned int)v < best[g]) best[g] = (unsigned int)v;
                }
            }
        }
        #pragma unroll
        for (int g = 0; g < GROUP; g++) {
            unsigned int v = best[g];
            for (int o = 16; o > 0; o >>= 1) {
                const unsigned int w = __shfl_down_sync(0xffffffffu, v, o);
                v = w < v ? w : v;
            }
            if ((threadIdx.x & 31) == 0 && h0 + g < hashes) atomicMin(&sig[h0 + g], v);
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 256; i += blockDim.x) hist_out[(long long)f * 256 + i] = hist[i];
    for (int i = threadIdx.x; i < hashes; i += blockDim.x)
        sig_out[(long long)f * hashes + i] = sig[i];
}
"""

_lock = threading.Lock()
_coefficients: dict[int, object] = {}  # hashes -> device array of (a, b), per process


def kernel():
    return gpu.raw_kernel(_SOURCE, "full_files")


def _device_coefficients(hashes: int):
    """fullscan.permutations on the device, a then b (uint64), made once per size."""
    import cupy

    with _lock:
        if hashes not in _coefficients:
            a, b = fullscan.permutations(hashes)
            _coefficients[hashes] = cupy.asarray(np.concatenate([a, b]))
        return _coefficients[hashes]


def full_batch(
    host: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, params: dict, budget: int
) -> tuple[np.ndarray, fullscan.FullResult, TaskTiming]:
    """(counts 4 x n, histograms and signatures, device timing) of the files in ``host``.

    ``lengths`` of files not to analyse are 0. Chunks follow gpu.count_batch: a chunk that
    runs out of device memory is halved and retried; one file that still does not fit
    raises (its batch is recorded as failed)."""
    n = len(offsets)
    counts = np.zeros((4, n), dtype=np.uint64)
    res = fullscan.FullResult(n, params["hashes"])
    timing = TaskTiming()
    stream = gpu._stream()
    with stream:
        gpu.run_in_chunks(
            offsets,
            lengths,
            budget,
            timing,
            lambda first, last: _full_chunk(
                host, offsets, lengths, (first, last), params, counts, res, timing
            ),
        )
    return counts, res, timing


def _full_chunk(host, offsets, lengths, span, params, counts, res, timing) -> None:
    import cupy

    first, last = span
    stream = gpu._stream()
    lo, hi = gpu._span(offsets, lengths, first, last)
    t0 = time.perf_counter()
    dev = gpu._device_buffer(hi - lo)
    dev[: hi - lo].set(host[lo:hi], stream=stream)
    d_off = cupy.asarray(offsets[first:last])
    d_len = cupy.asarray(lengths[first:last])
    stream.synchronize()
    t1 = time.perf_counter()
    m, hashes = last - first, params["hashes"]
    d_counts = cupy.empty(4 * m, dtype=cupy.uint64)
    d_hist = cupy.empty((m, 256), dtype=cupy.uint32)
    d_sig = cupy.empty((m, hashes), dtype=cupy.uint32)
    base, threads = np.int64(lo), gpu.THREADS_PER_BLOCK
    gpu.kernel()((m,), (threads,), (dev, d_off, d_len, base, np.int32(m), d_counts))
    args = (dev, d_off, d_len, base, np.int32(m), np.int32(params["shingle_bytes"]))
    args += (_device_coefficients(hashes), np.int32(hashes), d_hist, d_sig)
    kernel()((m,), (threads,), args, shared_mem=hashes * (2 * 8 + 4))
    stream.synchronize()
    t2 = time.perf_counter()
    counts[:, first:last] = d_counts.get(stream=stream).reshape(4, m)
    res.hist[first:last] = d_hist.get(stream=stream)
    res.sig[first:last] = d_sig.get(stream=stream)
    t3 = time.perf_counter()
    timing.h2d_s += t1 - t0
    timing.analyse_s += t2 - t1
    timing.d2h_s += t3 - t2
    timing.gpu_chunks += 1
