"""Dask's performance report around one extra, untimed repeat: filerate.engine.daskreport."""

from __future__ import annotations

import re
import time

import pytest

from filerate.engine import dashboard, daskreport

pytest.importorskip("bokeh")


def test_the_report_wraps_one_untimed_repeat(tmp_path):
    from distributed import Client, LocalCluster

    calls = []

    def one_repeat() -> dict:
        t0 = time.perf_counter()
        done = client.gather(client.map(lambda x: x * x, range(50), pure=False))
        calls.append(len(done))
        return {"wall_s": time.perf_counter() - t0, "files_ok": len(done), "files_error": 0}

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
            **dashboard.local_cluster_kwargs(False),
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        rec = daskreport.untimed_repeat(one_repeat, tmp_path, timed_wall_s=[0.5, 0.4, 0.6])
    report = tmp_path / daskreport.REPORT_NAME
    assert calls == [50]  # exactly one repeat ran under the report
    assert report.is_file() and rec["bytes"] == report.stat().st_size > 10_000
    text = report.read_text()
    assert "Dask Performance Report" in text
    assert not re.search(r"<script[^>]*\ssrc=", text)  # BokehJS inlined: nothing fetched
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left beside it
    assert rec["untimed"] and rec["file"] == "dask-report.html"
    assert rec["repeat_files_ok"] == 50 and rec["timed_wall_s_median"] == 0.5
    assert rec["repeat_slowdown_pct"] == pytest.approx((rec["repeat_wall_s"] / 0.5 - 1) * 100)
    assert rec["collect_s"] > 0 and rec["extra_s"] >= rec["repeat_wall_s"] + rec["collect_s"] - 1e-9


def test_no_bokeh_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_bokeh(name, *args, **kwargs):
        if name == "bokeh":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_bokeh)
    from filerate.errors import UserError

    with pytest.raises(UserError, match="needs bokeh"):
        daskreport.check_available()
