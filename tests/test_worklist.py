"""Per-thread tasks (engine.worklist) and repeats.run_repeat with task_layout per_thread:
every batch of every pass done exactly once, results identical to a task per batch."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from filerate.engine import perthread, repeats, scheduler_log, tasks, worklist
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
    done = sorted((p, b) for out in outs for p, b, _, _ in out)
    assert done == sorted((p, b) for p, b, _, _ in items)  # each exactly once
    assert "g-test" not in worklist._lists  # forgotten once every task left
    for out in outs:
        for p, b, res, attempts in out:
            assert attempts == 1
            lo, hi = _batches()[b]
            ref = tasks.analyse_batch({**_base(small_corpus), "start": lo, "stop": hi})
            assert (res.start, res.stop) == (lo, hi)
            assert np.array_equal(res.status, ref.status)
            assert np.array_equal(res.bytes, ref.bytes)
            if p == 0:  # not the last pass: counted, its hashes and analysis not sent
                assert res.hash is None and res.lines is None
            else:
                assert np.array_equal(res.hash, ref.hash)
                assert np.array_equal(res.lines, ref.lines)


def _drain_spec(c, fault, retries):
    items = [(0, b, lo, hi) for b, (lo, hi) in enumerate(_batches())]
    return {
        **_base(c, "minimal"),
        "group": f"g-fault-{retries}",
        "items": items,
        "tasks_in_group": 1,
        "task_retries": retries,
        "_test_fault": fault,
    }


def test_a_raising_batch_is_retried_in_place_then_returned_as_its_error(small_corpus):
    spec = _drain_spec(small_corpus, {"action": "raise", "start": 140}, 2)
    out = {b: (res, attempts) for _, b, res, attempts in worklist.drain(spec)}
    assert sorted(out) == list(range(len(_batches())))
    res, attempts = out[2]
    assert res.startswith("RuntimeError: injected fault") and attempts == 3  # 1 + task_retries
    assert all(not isinstance(r, str) and a == 1 for b, (r, a) in out.items() if b != 2)


def test_a_batch_that_raises_once_is_retried_in_place(small_corpus, tmp_path):
    fault = {"action": "raise", "start": 140, "once": str(tmp_path / "raised")}
    out = {b: (res, a) for _, b, res, a in worklist.drain(_drain_spec(small_corpus, fault, 2))}
    res, attempts = out[2]
    assert attempts == 2 and (res.start, res.stop) == _batches()[2]
    assert (res.status == FileStatus.OK).all()


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


def _ctx(client, c, layout, fault=None, retries=0):
    spec = _base(c)
    if fault:
        spec["_test_fault"] = fault
    settings = {
        "name": f"wl-{layout}",
        "task_layout": layout,
        "task_retries": retries,
        "timeout_s": 60,
    }
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


def test_per_thread_batch_retried_in_place_is_counted_then_ok(client, small_corpus, tmp_path):
    fault = {"action": "raise", "start": 210, "once": str(tmp_path / "raised")}
    ctx = _ctx(client, small_corpus, "per_thread", fault, retries=2)
    rec, rows, res = repeats.run_repeat(ctx, 0, False)
    assert (res.status == FileStatus.OK).all() and rec["files_ok"] == FILES
    assert rec["failed_batches"] == [] and rec["failed_tasks"] == 0
    # a drained batch run twice in place counts as a retried task with one retry
    assert rec["retries"] == 1 and rec["retried_tasks"] == 1 and rec["retried_batches"] == [3]
    assert {row.batch: row.attempts for row in rows} == {b: 1 + (b == 3) for b in range(9)}


def test_per_thread_group_whose_tasks_fail_is_finished_per_batch(client, small_corpus, monkeypatch):
    """Every task of the group holding batch 3 fails on every attempt (as a KilledWorker
    would reach the client): the group's batches go again as per-batch tasks in the same
    repeat, so only the batch that keeps raising is errors and every other is read."""
    real = worklist.drain

    def dying(spec):
        if any(lo == 210 for _, _, lo, _ in spec["items"]):
            raise OSError("worker lost")
        return real(spec)

    monkeypatch.setattr(worklist, "drain", dying)
    ctx = _ctx(client, small_corpus, "per_thread", {"action": "raise", "start": 210}, retries=1)
    rec, rows, res = repeats.run_repeat(ctx, 0, False)
    assert (res.status[210:280] == FileStatus.BATCH_FAILED).all()
    assert res.errors[210].detail.startswith("RuntimeError: injected fault")
    assert (np.delete(res.status, np.s_[210:280]) == FileStatus.OK).all()
    assert rec["files_ok"] == FILES - 70 and rec["files_error"] == 70
    assert rec["failed_batches"] == [3]
    # the group (batches 0-3 of 9 on the first of two 2-thread workers) went again per batch
    assert rec["tasks"] == 4 + 4 and rec["failed_tasks"] == 2 + 1  # its 2 drains, batch 3
    assert {r.batch for r in rows if r.key.startswith("analyse-")} == {0, 1, 2}
    assert {0, 1, 2, 3} <= set(rec["retried_batches"])
    assert rec["timed_out"] is False


@pytest.mark.parametrize("layout", ["per_thread", "per_batch"])
def test_timeout_records_only_the_unfinished_batches(client, small_corpus, layout):
    """The end-to-end timeout test (test_reliability_faults) runs per_thread only; the
    per-batch layout's timeout is checked here, in-process and fast."""
    ctx = _ctx(client, small_corpus, layout, {"action": "sleep", "seconds": 3, "start": 0})
    ctx.deadline = time.monotonic()  # the collector waits its least, 1 s
    rec, _, res = repeats.run_repeat(ctx, 0, False)
    assert rec["timed_out"] is True
    assert (res.status[:BATCH] == FileStatus.TIMED_OUT).all()  # the batch still asleep
    assert res.errors[0].kind == "timeout"
    if layout == "per_thread":  # its group's others were done by the group's second task
        assert (res.status[BATCH:] == FileStatus.OK).all()
    else:  # a batch Dask had queued behind the sleeping one on its worker is late too
        assert np.isin(res.status, [FileStatus.OK, FileStatus.TIMED_OUT]).all()
        assert (res.status == FileStatus.OK).sum() >= FILES - 3 * BATCH


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
    its group's whole list, plus batches retried in place or sent again per batch;
    failed_tasks: tasks only, not batches that raised in one; retried_tasks and retries
    add drained batches run more than once in place."""
    rows = [SimpleNamespace(batch=b, key="t0") for b in (0, 1)]
    rows += [SimpleNamespace(batch=b, key="t1") for b in (2, 3)]
    marked = repeats._Marked(failed=[("t1", 4), ("t2", 5)], timed_out=[("t0", 6)])
    marked.failed_tasks = 1
    attempts = {"t0": 1, "t1": 2, "t2": 1}
    fields = repeats._fault_fields(rows, marked, attempts)
    assert fields == {
        "retried_tasks": 1,
        "retries": 1,
        "retried_batches": [2, 3, 4],
        "failed_tasks": 1,
        "failed_batches": [4, 5],
    }
    marked.in_place, marked.redone = [(0, 3)], [7]
    fields = repeats._fault_fields(rows, marked, attempts)
    assert fields["retried_batches"] == [0, 2, 3, 4, 7]
    assert (fields["retried_tasks"], fields["retries"]) == (2, 3)
    unread = repeats._fault_fields(rows, repeats._Marked(), None)
    assert unread["retried_batches"] == [] and unread["retries"] is None


def test_worker_threads_asks_the_scheduler_not_the_clients_cache(client, monkeypatch):
    """The client's periodic refresh (every 2 s) stores an identity without workers, and
    can do so between scheduler_info's fresh fetch and its return: a repeat that read that
    cache saw "no Dask workers" in the middle of a run (make run, turbo phase). Here the
    refresh always wins the race."""
    empty = {**client.sync(client.scheduler.identity, n_workers=0), "workers": {}}

    async def refresh_wins(n_workers=0):
        client._scheduler_identity = empty

    monkeypatch.setattr(client, "_update_scheduler_info", refresh_wins)
    assert client.scheduler_info(n_workers=-1)["workers"] == {}  # the race, as it happened
    workers = client.sync(client.scheduler.identity, n_workers=-1)["workers"]
    assert len(workers) == 2
    assert perthread.worker_threads(client) == dict.fromkeys(workers, 2)
