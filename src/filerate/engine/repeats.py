"""The timed repeats of a phase: submit one task per batch (or per worker thread:
engine.perthread), collect and place the results, and record what each repeat
measured (run.json ``repeats``, batches.parquet).

Each repeat is timed from the first submit to the last result received and placed.
Every file of the manifest ends each repeat as ok or as an error with a reason: a batch
whose task failed on every attempt, or that had not finished when the phase's timeout
passed, is recorded as errors, never dropped.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filerate import fmt
from filerate.engine import (
    coldrun,
    latency,
    perthread,
    rounds,
    scheduler_log,
    tasks,
    taskspec,
    worker_stats,
)
from filerate.engine.file_results import FileResults
from filerate.engine.records import BatchRecord, ErrorKind, FileError, FileStatus, TaskResult
from filerate.units import MB

#: at most this many passes in one round trip (per-thread tasks), so one trip stays short
MAX_PASSES_PER_TRIP = 64


@dataclass
class RepeatContext:
    """What every repeat of a phase shares."""

    client: Any  # distributed.Client
    spec_base: dict  # the task spec without its row range (see tasks.analyse_batch)
    batches: list[tuple[int, int]]  # manifest rows [lo, hi) of each batch
    files: int  # rows in the manifest
    settings: dict  # the phase settings
    deadline: float  # time.monotonic() by which the phase must have finished
    scheduler: scheduler_log.SchedulerLog
    placement: Any = None  # worker_staging.Placement: each batch only where its copy is
    storage: Any = None  # engine.coldrun.RepeatStorage: cache state and real-tree checks
    #: the timed repeats' latency histograms and maxima, summed over their tasks
    latency: tuple = field(default_factory=latency.new)
    pass_s: float | None = None  # seconds per pass in the last repeat (passes_for)

    @property
    def per_thread(self) -> bool:
        """Per-thread tasks draining work lists (engine.worklist), not a task per batch;
        per-worker staging keeps a task per batch (each batch only where its copy is)."""
        return self.settings.get("task_layout") == "per_thread" and self.placement is None

    def passes_for(self, min_repeat_s: float) -> int:
        """Passes to send in one round trip: enough to last about min_repeat_s, so the
        round trip's fixed costs (submitting, the last task's result, the client's
        bookkeeping) fall on several passes and the workers never wait for the client
        between passes. One before the first pass has been timed, and with per-worker
        staging (its placement maps one pass's batches)."""
        if not self.pass_s or min_repeat_s <= 0 or self.placement is not None:
            return 1
        return max(1, min(MAX_PASSES_PER_TRIP, math.ceil(min_repeat_s / self.pass_s)))

    def add_latency(self, res: TaskResult) -> None:
        if res.latency is not None:
            self.latency[0][:] += res.latency
            np.maximum(self.latency[1], res.latency_max, out=self.latency[1])


@dataclass
class PhaseRepeats:
    """Every repeat a phase ran, warm-up included."""

    records: list[dict] = field(default_factory=list)  # run.json ``repeats``
    batch_rows: list[BatchRecord] = field(default_factory=list)
    lost_workers: list[dict] = field(default_factory=list)
    last: FileResults | None = None  # the last timed repeat's (the warm-up's if none)
    status: str = "ok"  # "ok" or "timeout"


@dataclass
class _Submitted:
    """One round trip's tasks in flight: key -> ((pass, batch) of each item, submit time)."""

    futures: list
    meta: dict[str, tuple[list[tuple[int, int]], float]]
    groups: perthread.Groups | None = None  # per-thread tasks' groups


def run_warmup(ctx: RepeatContext, done: PhaseRepeats) -> None:
    """The untimed warm-up passes (one pass each); stops early when the phase times out."""
    for r in range(ctx.settings["warmup"]):
        cache_rec = ctx.storage.before(True) if ctx.storage else None
        rec, rows, results = run_repeat(ctx, r, True)
        if ctx.storage:
            ctx.storage.after(rec, results, cache_rec)
        rec["label"] = "warm-up"
        _keep(ctx, done, rec, rows, results)
        done.last = results
        if rec["timed_out"]:
            done.status = "timeout"
            return


def timed_series(ctx: RepeatContext, done: PhaseRepeats, rule, min_repeat_s: float, label):
    """filerate's timed repeats as a rounds.Series: repeat i runs whole passes back to back
    until min_repeat_s has passed (engine.rounds.timed_repeat); its record goes in
    ``done`` with files/s = files done over the passes' summed wall time."""

    if ctx.storage is not None and ctx.storage.single_pass:
        min_repeat_s = 0.0  # one evicted (or reference-checked) pass per repeat

    def measure(i: int) -> dict:
        r = len(done.records)
        recs: list[dict] = []
        # a cold phase's eviction (or a residency check), outside the timed window
        cache_rec = ctx.storage.before(False) if ctx.storage else None

        def one_pass(k: int) -> rounds.Pass:
            rec, rows, results = run_repeat(ctx, r, False, ctx.passes_for(min_repeat_s))
            recs.append(rec)
            done.batch_rows.extend(rows)
            done.last = results
            return rounds.Pass(rec["files_ok"], rec["files_error"], rec["wall_s"], rec["timed_out"])

        _, elapsed = rounds.timed_repeat(one_pass, min_repeat_s)
        rec = merge_passes(recs, r, elapsed)
        if ctx.storage:
            ctx.storage.after(rec, done.last, cache_rec)
        rec["label"] = label(i)
        _keep(ctx, done, rec, [], None)
        if rec["timed_out"]:
            done.status = "timeout"
        return rec

    return rounds.Series("filerate", measure, rule)


def _keep(ctx: RepeatContext, done: PhaseRepeats, rec: dict, rows, results) -> None:
    """Append a repeat's record (and rows) to ``done`` and print its line."""
    done.records.append(rec)
    done.batch_rows.extend(rows)
    done.lost_workers.extend({"repeat": rec["repeat"], **w} for w in rec["lost_workers"])
    passes = f", {rec['passes']} passes" if rec.get("passes", 1) > 1 else ""
    print(
        f"  {ctx.settings['name']} {rec['label']}: {fmt.rate(rec['files_per_s'])} "
        f"({rec['files_ok']} ok, {rec['files_error']} errors, {fmt.seconds(rec['wall_s'])}{passes}"
        f"{coldrun.note(rec)})",
        file=sys.stderr,
    )


def merge_passes(recs: list[dict], r: int, elapsed_s: float) -> dict:
    """One time-based repeat's record from its passes' records. wall_s sums the passes'
    timed windows (first submit to last result placed); elapsed_s also holds the
    bookkeeping between passes (scheduler log reads), reported as between_passes_s."""
    wall = sum(p["wall_s"] for p in recs)
    ok = sum(p["files_ok"] for p in recs)
    known = all(p["retries"] is not None for p in recs)
    nbytes = sum(p["bytes_ok"] for p in recs)
    return {
        "repeat": r,
        "warmup": False,
        "start": recs[0]["start"],
        "stop": recs[-1]["stop"],
        "passes": sum(p.get("passes", 1) for p in recs),
        "wall_s": wall,
        "between_passes_s": max(0.0, elapsed_s - wall),
        "files_ok": ok,
        "files_error": sum(p["files_error"] for p in recs),
        "files_per_s": ok / wall if wall > 0 else 0.0,
        "bytes_ok": nbytes,
        "mb_per_s": nbytes / MB / wall if wall > 0 else 0.0,
        "tasks": sum(p["tasks"] for p in recs),
        "retried_tasks": sum(p["retried_tasks"] for p in recs) if known else None,
        "retries": sum(p["retries"] for p in recs) if known else None,
        "retried_batches": sorted({b for p in recs for b in p["retried_batches"]}),
        "failed_tasks": sum(p["failed_tasks"] for p in recs),
        "failed_batches": sorted({b for p in recs for b in p["failed_batches"]}),
        "timed_out": any(p["timed_out"] for p in recs),
        "lost_workers": [w for p in recs for w in p["lost_workers"]],
        "joined_workers": [w for p in recs for w in p["joined_workers"]],
        # the stonewall view is per pass (the workers' race to the end of one pass)
        "per_worker": recs[-1].get("per_worker"),
    }


def run_repeat(
    ctx: RepeatContext, r: int, warmup: bool, passes: int = 1
) -> tuple[dict, list[BatchRecord], FileResults]:
    """One round trip of ``passes`` passes (more than one only with per-thread tasks): its
    run.json record (files over every pass), its batches.parquet rows and the last
    pass's per-file results."""
    token = uuid.uuid4().hex[:8]  # unique keys: Dask must not reuse an earlier repeat's result
    # only the last pass's hashes and analysis are kept (and validated); the others count
    per_pass = [FileResults(ctx.files, analysis=p == passes - 1) for p in range(passes)]
    # the workers' threads, asked of the scheduler before the timed window opens
    threads = perthread.worker_threads(ctx.client) if ctx.per_thread else None
    start_epoch = time.time()
    t0 = time.perf_counter()
    if threads:
        submitted = _Submitted(*perthread.submit(ctx, r, token, passes, threads))
    else:
        submitted = _submit(ctx, r, token, passes)
    rows, marked, timed_out = _collect(ctx, submitted, per_pass, r, warmup)
    wall = time.perf_counter() - t0
    stop_epoch = time.time()
    ctx.pass_s = wall / passes
    # after the timed window: what the scheduler saw of retries and lost workers
    attempts = scheduler_log.attempts(ctx.client, list(submitted.meta))
    lost, joined = ctx.scheduler.since_last()
    for row in rows:  # the task's starts, and a drained batch's attempts in place
        started = (attempts or {}).get(row.key)  # 0: not in the log
        row.attempts = started + row.attempts - 1 if started else None
    for results in per_pass:
        results.account_unset()
    ok = sum(int(res.ok().sum()) for res in per_pass)
    rec = {
        "repeat": r,
        "warmup": warmup,
        "start": start_epoch,
        "stop": stop_epoch,
        "wall_s": wall,
        "passes": passes,
        "files_ok": ok,
        "files_error": ctx.files * passes - ok,
        "files_per_s": ok / wall if wall > 0 else 0.0,
        "tasks": len(submitted.meta),
        **_fault_fields(rows, marked, attempts),
        "timed_out": timed_out,
        "lost_workers": lost,
        "joined_workers": joined,
        "per_worker": worker_stats.per_worker([row.to_dict() for row in rows], start_epoch),
    }
    rec["bytes_ok"] = sum(int(res.bytes[res.ok()].sum()) for res in per_pass)
    rec["mb_per_s"] = rec["bytes_ok"] / MB / wall if wall else 0.0
    return rec, rows, per_pass[-1]


def _submit(ctx: RepeatContext, r: int, token: str, passes: int) -> _Submitted:
    """A task per batch and pass, all in one message: the scheduler sees every task at
    once and queues them (one per free thread, plus Dask's worker-saturation margin), so
    a worker starts its next batch without waiting for the client."""
    items = [(p, b) for p in range(passes) for b in range(len(ctx.batches))]
    keys, specs = taskspec.batch_tasks(
        ctx.spec_base, ctx.batches, ctx.settings["name"], r, token, items, passes - 1
    )
    submitted = time.time()
    retries = ctx.settings["task_retries"]
    if ctx.placement is not None:  # per-worker staging: each batch only where its files are
        if passes != 1:  # its map places one pass's batches (passes_for keeps it at 1)
            raise ValueError("per-worker staging sends one pass per round trip")
        futures = ctx.placement.map(ctx.client, tasks.analyse_batch, specs, keys, retries)
    else:
        futures = ctx.client.map(tasks.analyse_batch, specs, key=keys, pure=False, retries=retries)
    return _Submitted(
        futures, {k: ([item], submitted) for k, item in zip(keys, items, strict=True)}
    )


def _collect(ctx: RepeatContext, submitted: _Submitted, per_pass: list, r: int, warmup: bool):
    """Place results as they come back: (batch rows, the batches recorded as errors as a
    _Marked, timed out). Items no result reached are recorded once every task has
    answered, since a per-thread task's batches may have been done by another task of its
    group; a per-thread group's items that no task of the group returned are first sent
    again as per-batch tasks (engine.perthread), collected here under the same deadline."""
    from distributed import as_completed

    got = _Got()
    pending = set(submitted.meta)
    timeout = max(1.0, ctx.deadline - time.monotonic())
    futures = as_completed(submitted.futures, timeout=timeout)
    try:
        for fut in futures:
            pending.discard(fut.key)
            error = _take(ctx, submitted, fut, per_pass, r, warmup, got)
            if submitted.groups is not None:
                more, meta = submitted.groups.answered(ctx, fut.key, error)
                submitted.futures += more
                submitted.meta.update(meta)
                pending.update(meta)
                futures.update(more)
    except TimeoutError:
        ctx.client.cancel([f for f in submitted.futures if f.key in pending])
    marked = got.marked
    for key, items, error in got.failed:
        done = _fail_unset(ctx, per_pass, items, FileStatus.BATCH_FAILED, error)
        marked.failed += [(key, b) for _, b in done]
    error = FileError(
        ErrorKind.TIMEOUT,
        f"phase passed timeout_s={ctx.settings['timeout_s']:g} before this batch finished",
    )
    for key in pending:
        done = _fail_unset(ctx, per_pass, submitted.meta[key][0], FileStatus.TIMED_OUT, error)
        marked.timed_out += [(key, b) for _, b in done]
    if submitted.groups is not None:
        marked.redone = [b for _, b in submitted.groups.redone]
    return got.rows, marked, bool(pending)


@dataclass
class _Marked:
    """What _collect recorded as errors: (task key, batch) of each batch it marked failed
    or timed out (only batches no result reached: with per-thread tasks a task's items
    are its whole group's), and the tasks that failed on every attempt; and of drained
    batches (per-thread tasks), (batch, attempts) of each run more than once in place and
    the batches sent again as per-batch tasks."""

    failed: list = field(default_factory=list)
    timed_out: list = field(default_factory=list)
    failed_tasks: int = 0
    in_place: list = field(default_factory=list)
    redone: list = field(default_factory=list)


@dataclass
class _Got:
    """What _collect has so far: rows placed, failures to record once all answered."""

    rows: list = field(default_factory=list)
    failed: list = field(default_factory=list)  # (task key, [(pass, batch)], FileError)
    marked: _Marked = field(default_factory=_Marked)


def _take(ctx, submitted: _Submitted, fut, per_pass: list, r: int, warmup: bool, got: _Got):
    """Place one task's answer; returns its failure ("Type: message") when it failed on
    every attempt (e.g. KilledWorker), else None. A failed per-thread task's items are not
    recorded here: its group's unfinished items go again as per-batch tasks."""
    items, sent = submitted.meta[fut.key]
    drained = submitted.groups is not None and fut.key in submitted.groups.group_of
    try:
        out = _result(ctx, fut, drained)
    except Exception as exc:
        got.marked.failed_tasks += 1
        error = _batch_error(exc)
        if not drained:
            got.failed.append((fut.key, items, error))
        return error.detail
    for p, b, res, tries in out if drained else [(*items[0], out, 1)]:
        if drained:  # the first result of an item counts (see Groups.received)
            if (p, b) in submitted.groups.received:
                continue
            submitted.groups.received.add((p, b))
        if tries > 1:
            got.marked.in_place.append((b, tries))
        if isinstance(res, str):  # per-thread task: this batch raised on every attempt
            got.failed.append((fut.key, [(p, b)], FileError(ErrorKind.BATCH_FAILED, res)))
            continue
        per_pass[p].place(res)
        if not warmup:
            ctx.add_latency(res)
        rows = got.rows
        rows.append(_batch_record(res, r, warmup, b, fut.key, sent))
        rows[-1].attempts = tries  # attempts in place; run_repeat adds the task's starts
    return None


#: seconds to wait for a finished per-thread task's result before its group's items are
#: sent again as per-batch tasks (see _result)
RESULT_LOST_S = 20.0


def _result(ctx: RepeatContext, fut, drained: bool):
    """A finished task's result. It is normally at hand; when the worker holding it died
    first, Dask recomputes it, and with every worker restarting that recompute was seen
    never to come (make test: a poison batch killed the worker that held another group's
    result). So the wait is bounded: for a per-thread task by RESULT_LOST_S, after which
    its group is finished with per-batch tasks; for a per-batch task by the phase's
    deadline. Raises TimeoutError, with what happened, when the wait runs out."""
    wait = RESULT_LOST_S if drained else ctx.deadline - time.monotonic()
    try:
        return fut.result(timeout=max(1.0, wait))
    except TimeoutError:
        ctx.client.cancel([fut])
        raise TimeoutError(
            f"the finished task's result was lost with its worker and not recomputed "
            f"within {fmt.seconds(max(1.0, wait))}"
        ) from None


def _fault_fields(rows: list[BatchRecord], marked: _Marked, attempts: dict | None) -> dict:
    """run.json's fault counts. retried_tasks and retries: tasks the scheduler started more
    than once and the extra starts, plus drained batches run more than once in place and
    those extra attempts (null when the scheduler's log was unread); retried_batches:
    batches a retried task returned or was recorded as failing, batches run again in
    place and batches sent again as per-batch tasks; failed_tasks: tasks that failed on
    every attempt (a batch that raised inside a per-thread task is only in
    failed_batches); failed_batches: batches recorded as failed."""
    retried = {k: a for k, a in (attempts or {}).items() if a > 1}
    retried_batches = {row.batch for row in rows if row.key in retried}
    retried_batches |= {b for k, b in marked.failed + marked.timed_out if k in retried}
    retried_batches |= {b for b, _ in marked.in_place} | set(marked.redone)
    known = attempts is not None
    extra = sum(a - 1 for a in retried.values()) + sum(a - 1 for _, a in marked.in_place)
    return {
        "retried_tasks": len(retried) + len(marked.in_place) if known else None,
        "retries": extra if known else None,
        "retried_batches": sorted(retried_batches),
        "failed_tasks": marked.failed_tasks,
        "failed_batches": sorted({b for _, b in marked.failed}),
    }


def _fail_unset(ctx, per_pass: list, items, status: FileStatus, error: FileError) -> list:
    """Record the batches among ``items`` that got no result as ``error``; returns the
    (pass, batch) items it recorded."""
    done = []
    for p, b in items:
        lo, hi = ctx.batches[b]
        if hi > lo and per_pass[p].status[lo] == FileStatus.UNSET:
            per_pass[p].fail(lo, hi, status, error)
            done.append((p, b))
    return done


def _batch_error(exc: Exception) -> FileError:
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return FileError(ErrorKind.BATCH_FAILED, f"{type(exc).__name__}: {detail}")


def _batch_record(
    res: TaskResult, r: int, warmup: bool, b: int, key: str, submitted: float
) -> BatchRecord:
    ok = res.status == FileStatus.OK
    return BatchRecord(
        repeat=r,
        warmup=warmup,
        batch=b,
        key=key,
        worker=res.worker,
        pid=res.pid,
        thread=res.thread,
        device=res.device,
        submitted=submitted,
        start=res.t_start,
        stop=res.t_stop,
        received=time.time(),
        files=len(res.status),
        bytes=int(res.bytes[ok].sum()),
        errors=int((~ok).sum()),
        timing=res.timing,
    )
