"""What else used the CPU: other processes' share and steal time, from the sampler."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from filerate.engine import monitor


def _frame(rows):
    return pd.DataFrame(rows, columns=["t", "busy_cpu_s", "steal_cpu_s", "tree_cpu_s"])


def test_others_share_and_steal_from_cumulative_counters():
    # 10 s on 2 CPUs (20 CPU-seconds): 12 busy, of which 8 ours; 1 stolen
    f = _frame([(100.0, 50.0, 3.0, 20.0), (105.0, 56.0, 3.5, 24.0), (110.0, 62.0, 4.0, 28.0)])
    got = monitor.interference(f, 100.0, 110.0, cpus=2)
    assert got["others_cpu_pct"] == pytest.approx(20.0)
    assert got["steal_pct"] == pytest.approx(5.0)
    assert got["samples"] == 3


def test_window_with_too_few_samples_or_old_frames():
    f = _frame([(100.0, 50.0, 3.0, 20.0)])
    assert monitor.interference(f, 0, 1e9, 2)["others_cpu_pct"] is None
    assert monitor.interference(pd.DataFrame({"t": [1.0, 2.0]}), 0, 9, 2)["samples"] == 0


def test_the_sampler_records_the_counters():
    with monitor.Sampler(None, hz=20) as s:
        t0 = time.time()
        while time.time() - t0 < 0.3:
            sum(range(20_000))  # burn a little CPU in this process,
            time.sleep(0.001)  # letting the sampler's thread take the GIL
    frame = s.frame()
    assert {"busy_cpu_s", "steal_cpu_s", "tree_cpu_s"} <= set(frame)
    assert frame["tree_cpu_s"].is_monotonic_increasing
    got = monitor.interference(frame, frame["t"].min(), frame["t"].max(), 2)
    assert got["others_cpu_pct"] is not None and 0 <= got["others_cpu_pct"] <= 100
