"""Per-worker numbers (stonewall view), the batch deal of per-worker staging, and the
per-worker table: pure functions on made-up rows."""

from __future__ import annotations

import pytest

from filerate.engine import worker_stats
from filerate.engine.worker_staging import deal
from filerate.reports import workers
from filerate.reports.load import Phase


def _row(worker, stop, files=100, errors=0):
    return {"worker": worker, "stop": stop, "files": files, "errors": errors}


def test_per_worker_stonewall_view():
    start = 1000.0
    rows = [
        _row("a", 1001.0),
        _row("a", 1002.0),
        _row("b", 1001.5),
        _row("b", 1003.0),
        _row("b", 1004.0, errors=10),
    ]
    pw = worker_stats.per_worker(rows, start)
    a, b = pw["workers"]
    assert (a["worker"], a["files"], a["batches"]) == ("a", 200, 2)
    assert (a["first_done_s"], a["last_done_s"], a["files_per_s"]) == (1.0, 2.0, 100.0)
    assert (b["files"], b["first_done_s"], b["last_done_s"]) == (290, 1.5, 4.0)
    assert b["files_per_s"] == pytest.approx(72.5)
    assert pw["files"] == 490 and pw["first_done_s"] == 1.0
    assert (pw["stonewall_s"], pw["last_done_s"], pw["spread_s"]) == (2.0, 4.0, 2.0)
    assert pw["files_per_s"] == pytest.approx(122.5)  # 490 files / 4 s
    assert pw["stonewall_files_per_s"] == pytest.approx(150.0)  # 300 files done by 2 s
    assert (pw["worker_files_per_s_min"], pw["worker_files_per_s_max"]) == (72.5, 100.0)
    assert worker_stats.per_worker([], start) is None


def test_deal_gives_contiguous_blocks_to_every_worker():
    batches = [(i, i + 10) for i in range(0, 70, 10)]
    owner = deal(batches, ["w0", "w1", "w2"])
    assert owner == {"w0": [0, 1], "w1": [2, 3], "w2": [4, 5, 6]}
    assert deal(batches[:1], ["w0", "w1"]) == {"w0": [], "w1": [0]}


def test_per_worker_table_uses_the_median_repeat():
    def rep(fps, stonewall):
        pw = worker_stats.per_worker(
            [_row("a", 100 + stonewall), _row("b", 100 + stonewall + 1)], 100.0
        )
        return {"warmup": False, "files_per_s": fps, "per_worker": pw}

    run = {"repeats": [{"warmup": True}, rep(10, 1.0), rep(30, 3.0), rep(20, 2.0)]}
    md = workers.markdown([Phase(name="p", dir=None, run=run)])
    assert "## Per-worker spread" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("| p |"))
    assert "| 2.000 s | 3.000 s | 1.000 s |" in line  # repeat with 20 files/s
    one = {"repeats": [{"warmup": False, "files_per_s": 1, "per_worker": {"workers": [{}]}}]}
    assert workers.markdown([Phase(name="q", dir=None, run=one)]) == ""
