"""GPU path: CuPy kernel against the CPU kernel and the reference, and a LocalCUDACluster
run. Marked `gpu`; skipped where no GPU, CuPy and dask-cuda are usable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from filerate import reference
from slots import layout

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu_mod():
    from filerate.engine import gpu

    info = gpu.probe()
    if not info["usable"]:
        pytest.skip(f"no usable GPU: {info['reason']}")
    return gpu


def _expected(datas):
    out = np.zeros((4, len(datas)), dtype=np.uint64)
    for i, d in enumerate(datas):
        t = reference.truth(d, b"x.txt")
        out[:, i] = (t["lines"], t["words"], t["non_ascii"], d.count(b"\0"))
    return out


def test_kernel_matches_reference_on_random_bytes(gpu_mod):
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b" \t\n\v\f\r\0ab\x80\xff\xc3\xa9", dtype=np.uint8)
    datas = [b"", b" ", b"a", b"\n", b"a b", b" a ", b"\0\0"]
    for n in list(range(0, 80)) + [1000, 4096, 65537]:
        datas.append(rng.choice(alphabet, n).tobytes())
        datas.append(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    buf, offsets, sizes = layout(datas)
    counts, timing = gpu_mod.count_batch(buf, offsets, sizes, budget=1 << 30)
    np.testing.assert_array_equal(counts, _expected(datas))
    assert timing.gpu_chunks == 1 and timing.analyse_s > 0


def test_small_budget_splits_into_chunks_with_same_result(gpu_mod):
    rng = np.random.default_rng(3)
    datas = [
        rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 20000, 300)
    ]
    buf, offsets, sizes = layout(datas)
    whole, _ = gpu_mod.count_batch(buf, offsets, sizes, budget=1 << 30)
    split, timing = gpu_mod.count_batch(buf, offsets, sizes, budget=64 * 1024)
    assert timing.gpu_chunks > 10 and timing.gpu_oversize_files == 0
    np.testing.assert_array_equal(whole, split)
    np.testing.assert_array_equal(whole, _expected(datas))


def test_gpu_batch_equals_cpu_batch_on_corpus(gpu_mod, small_corpus):
    from filerate.engine import tasks

    manifest = small_corpus / "manifest.parquet"
    n = len(pd.read_parquet(manifest))
    spec = {
        "manifest": str(manifest),
        "data_dir": str(small_corpus / "files"),
        "start": 0,
        "stop": n,
        "analysis": "light",
        "max_file_bytes": 1 << 28,
        "gpu_budget_bytes": 1 << 20,
    }
    cpu = tasks.analyse_batch({**spec, "device": "cpu"})
    gpu = tasks.analyse_batch({**spec, "device": "gpu"})
    for key in ("status", "bytes", "hash", "lines", "words", "non_ascii", "type"):
        np.testing.assert_array_equal(getattr(cpu, key), getattr(gpu, key), err_msg=key)
    assert gpu.device.startswith("gpu:")
    assert gpu.timing.h2d_s > 0 and gpu.timing.d2h_s > 0
    assert gpu.timing.gpu_chunks > 1  # 1 MiB of device budget: the batch goes in chunks


def test_local_cuda_cluster_end_to_end(gpu_mod, small_corpus, tmp_path):
    from filerate import config, validate
    from filerate.engine import process

    cfg = config.validate(
        {
            "corpora": {"c": {"files": 10}},
            "phases": {
                "g": {
                    "corpus": "c",
                    "backend": "gpu",
                    "workers": 4,
                    "batch_size": 100,
                    "repeats": 2,
                    "min_repeat_s": 0,
                    "gpu_memory_per_worker_gb": 0.01,
                }
            },
        }
    )
    settings = config.phases(cfg)["g"]
    manifest = small_corpus / "manifest.parquet"
    result = process.run_phase(
        settings, str(manifest), str(small_corpus / "files"), None, tmp_path / "out"
    )
    assert result["backend"]["used"] == "gpu"
    assert result["cluster"]["kind"] == "LocalCUDACluster"
    assert result["cluster"]["gpu_mapping"]["threads_per_gpu_worker"] >= 1
    batches = pd.read_parquet(tmp_path / "out" / "batches.parquet")
    assert batches["device"].str.startswith("gpu:").all()
    assert (batches.loc[~batches["warmup"], "analyse_s"] > 0).all()
    assert (batches["gpu_chunks"] >= 1).all() and (batches["gpu_oom_splits"] >= 0).all()
    files = pd.read_parquet(tmp_path / "out" / "files.parquet")
    v = validate.validate(pd.read_parquet(manifest), files, result)
    assert v["ok"], v
    resources = pd.read_parquet(tmp_path / "out" / "resources.parquet")
    assert "gpu0_util_pct" in resources.columns, result["hardware"]["gpu_monitor"]


def test_out_of_memory_chunk_is_split_and_retried(gpu_mod):
    """A device-memory limit below the chunk (CuPy's pool limit: a real OutOfMemoryError)
    makes the chunk split until the pieces fit; the counts stay exact."""
    import cupy

    rng = np.random.default_rng(5)
    datas = [rng.integers(0, 256, 40_000, dtype=np.uint8).tobytes() for _ in range(64)]
    buf, offsets, sizes = layout(datas)
    pool = cupy.get_default_memory_pool()
    gpu_mod._release_device_memory()
    old_limit = pool.get_limit()
    pool.set_limit(size=1 << 20)  # 1 MiB: the 2.5 MB chunk cannot be allocated whole
    try:
        counts, timing = gpu_mod.count_batch(buf, offsets, sizes, budget=1 << 30)
    finally:
        pool.set_limit(size=old_limit)
        gpu_mod._release_device_memory()
    assert timing.gpu_oom_splits >= 2
    np.testing.assert_array_equal(counts, _expected(datas))


def test_a_file_larger_than_free_device_memory_raises_memory_error(gpu_mod):
    import cupy

    datas = [b"x" * (2 << 20)]
    buf, offsets, sizes = layout(datas)
    pool = cupy.get_default_memory_pool()
    gpu_mod._release_device_memory()
    old_limit = pool.get_limit()
    pool.set_limit(size=1 << 20)
    try:
        with pytest.raises(MemoryError, match="does not fit"):
            gpu_mod.count_batch(buf, offsets, sizes, budget=1 << 30)
    finally:
        pool.set_limit(size=old_limit)
        gpu_mod._release_device_memory()
