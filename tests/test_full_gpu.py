"""`full` analysis on the GPU: counts, histograms and signatures bit-identical to the CPU
kernels. Marked `gpu`; skipped where no GPU, CuPy and dask-cuda are usable."""

from __future__ import annotations

import numpy as np
import pytest

from filerate.engine import fullscan, textcount
from slots import layout

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu_full():
    from filerate.engine import gpu

    info = gpu.probe()
    if not info["usable"]:
        pytest.skip(f"no usable GPU: {info['reason']}")
    from filerate.engine import gpu_full

    return gpu_full


def _datas():
    rng = np.random.default_rng(5)
    datas = [b"", b"a", b"abcd", b"abcde", b"\0" * 9, b"hello world\n" * 70]
    for n in list(range(1, 40)) + [255, 256, 257, 4096, 65537]:
        datas.append(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        datas.append(rng.choice(np.frombuffer(b"ab \n", np.uint8), n).tobytes())
    return datas


@pytest.mark.parametrize("k,hashes", [(5, 128), (1, 7), (24, 33), (8, 256)])
def test_gpu_equals_cpu(gpu_full, k, hashes):
    datas = _datas()
    buf, offsets, sizes = layout(datas)
    params = {"shingle_bytes": k, "hashes": hashes}
    counts, res, timing = gpu_full.full_batch(buf, offsets, sizes, params, 1 << 30)
    cpu = fullscan.full_batch(buf, offsets, sizes, k, hashes)
    np.testing.assert_array_equal(res.hist, cpu.hist)
    np.testing.assert_array_equal(res.sig, cpu.sig)
    expected = np.zeros((4, len(datas)), dtype=np.uint64)
    for i, d in enumerate(datas):
        textcount.count_slot(buf, offsets[i], (len(d) + 7) // 8 * 8, expected, i)
    np.testing.assert_array_equal(counts, expected)
    assert timing.gpu_chunks >= 1


def test_gpu_equals_cpu_in_small_chunks(gpu_full):
    datas = _datas()
    buf, offsets, sizes = layout(datas)
    params = {"shingle_bytes": 5, "hashes": 64}
    _, res, timing = gpu_full.full_batch(buf, offsets, sizes, params, 4096)
    cpu = fullscan.full_batch(buf, offsets, sizes, 5, 64)
    np.testing.assert_array_equal(res.sig, cpu.sig)
    np.testing.assert_array_equal(res.hist, cpu.hist)
    assert timing.gpu_chunks > 1
