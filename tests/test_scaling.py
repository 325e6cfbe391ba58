"""bench/scaling.py: the core counts, the efficiency, and affinity applied inside the child."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scaling():
    spec = importlib.util.spec_from_file_location("scaling", ROOT / "bench" / "scaling.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_core_counts(scaling):
    assert scaling.core_counts(1) == [1]
    assert scaling.core_counts(2) == [1, 2]
    assert scaling.core_counts(16) == [1, 2, 4, 8, 16]
    assert scaling.core_counts(12) == [1, 2, 4, 8, 12]


def test_efficiency_and_markdown(scaling):
    rows = [
        {"cores": 1, "filerate": {"files_per_s_median": 100.0}, "floor": {"error": ["x"]}},
        {"cores": 4, "filerate": {"files_per_s_median": 300.0}, "floor": {"error": ["x"]}},
    ]
    scaling.efficiency(rows, "filerate")
    scaling.efficiency(rows, "floor")
    assert rows[1]["filerate"]["efficiency"] == pytest.approx(0.75)
    assert rows[0]["floor"]["efficiency"] is None
    result = {
        "machine": {"cpus_available": 4, "model": "test", "memory_gb": 8},
        "files": 10,
        "bytes": 1000,
        "filesystem": "tmpfs",
        "analysis": "light",
        "batch_size": 5,
        "points": rows,
        "elapsed_s": 1.0,
        "corpus_s": 0.1,
    }
    md = scaling.to_markdown(result)
    assert "| 4 | 300 | 75 % | error: x |" in md
    assert "not enforced" not in md


def test_floor_child_runs_on_the_cpus_it_was_given(scaling, tmp_path):
    names = []
    for i in range(50):
        (tmp_path / f"f{i}.txt").write_bytes(b"y" * i)
        names.append(f"f{i}.txt")
    manifest = tmp_path / "manifest.parquet"
    pd.DataFrame({"path_raw": [n.encode() for n in names], "bytes": np.arange(50)}).to_parquet(
        manifest
    )
    one = [min(os.sched_getaffinity(0))]
    rec = scaling.measure_floor(2, one, manifest, tmp_path, budget_s=0.5, timeout=120)
    assert "error" not in rec, rec
    assert rec["thread_cpus"] == one  # read back inside the floor's threads
    assert rec["repeats"] >= 5
    assert 0 < rec["cpu_per_wall"] <= 1.2  # one CPU: at most one CPU second per second


def test_a_point_that_overruns_is_an_error_not_a_crash(scaling):
    cpus = sorted(os.sched_getaffinity(0))[:1]
    proc = scaling._run_child(["-c", "import time; time.sleep(30)"], cpus, timeout=0.5)
    assert proc.returncode == -1 and "timed out" in proc.stderr
