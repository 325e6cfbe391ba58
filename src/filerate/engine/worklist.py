"""Per-thread tasks (``task_layout: per_thread``): one long-lived Dask task per worker
thread drains a work list that its worker process holds, instead of one Dask task per
batch.

Each Dask task costs a scheduler round trip (milliseconds; more on a busy machine, and
several per core on a 1-core worker), which is a large part of a pass when a batch reads
in a millisecond or two. Here the client sends, per worker process, one group: the
batches (of one or more passes) that process is to read, as ``threads`` tasks with the
same list. The first task to arrive makes the process's work list; every task then
claims items one at a time (a lock and a counter: threads that run faster take more) and
analyses each with tasks.analyse_batch, exactly as a per-batch task would; a batch that
raises is run again in place, up to the phase's ``task_retries`` times (a per-batch task
would be retried by Dask). A task returns its items' results, with each item's attempts,
once, when the list is empty; engine.perthread is the client's side.
"""

from __future__ import annotations

import threading

from filerate.engine import tasks

_lock = threading.Lock()
#: group key -> the process's work list for that group (made by its first task)
_lists: dict[str, _WorkList] = {}


class _WorkList:
    """Items claimed one at a time; forgotten when every task of the group has left."""

    def __init__(self, items: list, tasks_in_group: int):
        self.items = items
        self.next = 0
        self.tasks_left = tasks_in_group

    def claim(self):
        with _lock:
            if self.next >= len(self.items):
                return None
            item = self.items[self.next]
            self.next += 1
            return item


def _join(key: str, items: list, tasks_in_group: int) -> _WorkList:
    with _lock:
        wl = _lists.get(key)
        if wl is None:
            wl = _lists[key] = _WorkList(items, tasks_in_group)
        return wl


def _leave(key: str, wl: _WorkList) -> None:
    with _lock:
        wl.tasks_left -= 1
        if wl.tasks_left <= 0 and _lists.get(key) is wl:
            del _lists[key]


def drain(spec: dict) -> list[tuple]:
    """Analyse items of the group ``spec["group"]`` until none is left.

    ``spec`` is the phase's task spec plus ``group`` (unique per pass set and process),
    ``items`` (pass, batch, lo, hi), ``tasks_in_group`` and ``task_retries``. Returns one
    tuple per item this task did: (pass, batch, TaskResult, attempts) or, when analysing
    the batch raised on each of its 1 + task_retries attempts, (pass, batch,
    "ExceptionType: message", attempts), so one bad batch is recorded as that batch's
    errors rather than losing the task's others.
    """
    extra = ("group", "items", "tasks_in_group", "task_retries")
    base = {k: v for k, v in spec.items() if k not in extra}
    tries = 1 + spec.get("task_retries", 0)
    wl = _join(spec["group"], spec["items"], spec["tasks_in_group"])
    last = max(item[0] for item in spec["items"])  # only its results are kept whole
    done: list[tuple] = []
    try:
        while (item := wl.claim()) is not None:
            p, b, lo, hi = item
            one = {**base, "start": lo, "stop": hi, "summary_only": p < last}
            done.append((p, b, *_analyse(one, tries)))
    finally:
        _leave(spec["group"], wl)
    return done


def _analyse(spec: dict, tries: int) -> tuple:
    """(TaskResult, attempts) of one batch, run again in place when it raises (as Dask
    would run a per-batch task again), or ("ExceptionType: message", tries)."""
    for attempt in range(1, tries + 1):
        try:
            return tasks.analyse_batch(spec), attempt
        except Exception as exc:
            detail = str(exc).splitlines()[0] if str(exc) else ""
            error = f"{type(exc).__name__}: {detail}"
    return error, tries
