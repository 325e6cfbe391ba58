"""Per-thread tasks (engine.worklist) and repeats.run_repeat with task_layout per_thread:
every batch of every pass done exactly once, results identical to a task per batch."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from filerate.engine import repeats, scheduler_log, tasks, worklist
from filerate.engine.file_results import FileResults
from filerate.engine.records import ErrorKind, FileError, FileStatus

FILES = 600  # the small_corpus fixture
BATCH = 70


def _base(c, analysis="light"):
    return {
        "phase": "wl",
        "manifest": str(c / "manifest.parquet"),
        "data_dir": str(c / "files"),
        "analysis": analysis,
        "max_file_bytes": 1 << 28,
        "gpu_budget_bytes": 1 << 29,
        "device": "cpu",
    }


def _batches():
    return [(lo, min(lo + BATCH, FILES)) for lo in range(0, FILES, BATCH)]


def test_threads_drain_one_list_each_item_once(small_corpus):
    items = [(p, b, lo, hi) for p in range(2) for b, (lo, hi) in enumerate(_batches())]
    spec = {**_base(small_corpus), "group": "g-test", "items": items, "tasks_in_group": 3}
    outs: list[list] = [[] for _ in range(3)]

    def run(t):
        outs[t] = worklist.drain(spec)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done = sorted((p, b) for out in outs for p, b, _ in out)
    assert done == sorted((p, b) for p, b, _, _ in items)  # each exactly once
    assert "g-test" not in worklist._lists  # forgotten once every task left
    for out in outs:
        for _, b, res in out:
            lo, hi = _batches()[b]
            ref = tasks.analyse_batch({**_base(small_corpus), "start": lo, "stop": hi})
            assert (res.start, res.stop) == (lo, hi)
            assert np.array_equal(res.status, ref.status)
            assert np.array_equal(res.hash, ref.hash)
            assert np.array_equal(res.lines, ref.lines)


def test_a_raising_batch_is_returned_as_its_error(small_corpus):
    items = [(0, b, lo, hi) for b, (lo, hi) in enumerate(_batches())]
    spec = {
        **_base(small_corpus, "minimal"),
        "group": "g-fault",
        "items": items,
        "tasks_in_group": 1,
        "_test_fault": {"action": "raise", "start": 140},
    }
    out = {b: res for _, b, res in worklist.drain(spec)}
    assert sorted(out) == list(range(len(items)))
    assert out[2].startswith("RuntimeError: injected fault")
    assert all(not isinstance(res, str) for b, res in out.items() if b != 2)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # two worker "processes" (in this process: fast to start) of 2 threads: two groups
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def _ctx(client, c, layout, fault=None):
    spec = _base(c)
    if fault:
        spec["_test_fault"] = fault
    settings = {"name": f"wl-{layout}", "task_layout": layout, "task_retries": 0, "timeout_s": 60}
    return repeats.RepeatContext(
        client,
        spec,
        _batches(),
        FILES,
        settings,
        time.monotonic() + 60,
        scheduler_log.SchedulerLog(client),
    )


def test_per_thread_repeat_matches_per_batch(client, small_corpus):
    by_batch = _ctx(client, small_corpus, "per_batch")
    rec_b, rows_b, res_b = repeats.run_repeat(by_batch, 0, False)
    per_thread = _ctx(client, small_corpus, "per_thread")
    assert per_thread.per_thread and per_thread.passes_for(1.0) == 1  # no pass timed yet
    assert by_batch.passes_for(1e9) == 64  # per-batch tasks also send several passes
    rec_t, rows_t, res_t = repeats.run_repeat(per_thread, 0, False, passes=3)
    assert rec_t["passes"] == 3 and rec_t["tasks"] == 4  # one task per worker thread
    assert rec_t["files_ok"] == 3 * rec_b["files_ok"] and rec_t["files_ok"] > 0
    assert rec_t["files_error"] == 3 * rec_b["files_error"]
    assert rec_t["bytes_ok"] == 3 * rec_b["bytes_ok"]
    assert len(rows_t) == 3 * len(rows_b)
    assert sorted(r.batch for r in rows_t) == sorted(3 * [r.batch for r in rows_b])
    for col in ("status", "bytes", "hash", "lines", "words", "non_ascii", "type"):
        assert np.array_equal(getattr(res_t, col), getattr(res_b, col)), col
    assert res_t.errors.keys() == res_b.errors.keys()
    assert per_thread.pass_s is not None and per_thread.passes_for(1e9) == 64


def test_per_thread_failed_batch_is_errors_not_lost(client, small_corpus):
    ctx = _ctx(client, small_corpus, "per_thread", {"action": "raise", "start": 210})
    rec, _, res = repeats.run_repeat(ctx, 0, False, passes=2)
    # the batch raised inside its task (both passes); no task failed
    assert rec["failed_batches"] == [3] and rec["failed_tasks"] == 0
    assert rec["files_ok"] + rec["files_error"] == 2 * FILES
    assert (res.status[210:280] == FileStatus.BATCH_FAILED).all()
    assert res.errors[210].detail.startswith("RuntimeError: injected fault")
    assert (res.status != FileStatus.UNSET).all()


def test_per_thread_timeout_records_only_the_unfinished_batches(client, small_corpus):
    ctx = _ctx(client, small_corpus, "per_thread", {"action": "sleep", "seconds": 3, "start": 0})
    ctx.deadline = time.monotonic()  # the collector waits its least, 1 s
    rec, _, res = repeats.run_repeat(ctx, 0, False)
    assert rec["timed_out"] is True
    assert (res.status[:BATCH] == FileStatus.TIMED_OUT).all()  # the batch still asleep
    assert (res.status[BATCH:] == FileStatus.OK).all()  # its group's others were done
    assert res.errors[0].kind == "timeout"


def _fake_ctx():
    return SimpleNamespace(batches=_batches())


def test_fail_unset_returns_only_the_batches_it_marked():
    """A failed per-thread task's items are its whole group's: only the batches no
    result reached are recorded, and only those are returned (finding 6)."""
    per_pass = [FileResults(FILES), FileResults(FILES)]
    lo, hi = _batches()[1]
    per_pass[0].status[lo:hi] = FileStatus.OK  # another task of the group did batch 1
    items = [(p, b) for p in range(2) for b in range(3)]
    error = FileError(ErrorKind.BATCH_FAILED, "KilledWorker: x")
    done = repeats._fail_unset(_fake_ctx(), per_pass, items, FileStatus.BATCH_FAILED, error)
    assert done == [(0, 0), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert (per_pass[0].status[lo:hi] == FileStatus.OK).all()
    # a second task of the same group failing marks nothing more
    assert repeats._fail_unset(_fake_ctx(), per_pass, items, FileStatus.BATCH_FAILED, error) == []


def test_fault_fields_count_what_was_marked_and_returned():
    """retried_batches: batches a retried task returned or was recorded as failing, not
    its group's whole list; failed_tasks: tasks only, not batches that raised in one."""
    rows = [SimpleNamespace(batch=b, key="t0") for b in (0, 1)]
    rows += [SimpleNamespace(batch=b, key="t1") for b in (2, 3)]
    marked = repeats._Marked(failed=[("t1", 4), ("t2", 5)], timed_out=[("t0", 6)])
    marked.failed_tasks = 1
    fields = repeats._fault_fields(rows, marked, {"t1": 2})
    assert fields == {"retried_batches": [2, 3, 4], "failed_tasks": 1, "failed_batches": [4, 5]}
    assert repeats._fault_fields(rows, repeats._Marked(), {})["retried_batches"] == []
