"""Per-thread tasks on the client's side (``task_layout: per_thread``; the worker's side is
engine.worklist): send one drain task per worker thread, and finish with per-batch tasks
the items of a group that no result reached.

A batch that raises is retried in place by its drain task (engine.worklist). A drain task
whose worker dies is retried by Dask on another worker (``task_retries`` times), where its
group is read again from the start. A drain task that failed on every attempt (e.g.
KilledWorker) does not turn its whole group into errors: once every task of the group has
answered, each item of the group that got no result is sent again as an ordinary per-batch
task (tasks.analyse_batch, ``retries=task_retries``), collected in the same repeat, so a
batch that keeps killing its worker fails alone.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from filerate.engine import cluster, tasks, taskspec, worklist


def worker_threads(client) -> dict[str, int]:
    """Each worker's address -> its threads."""
    workers = cluster.worker_info(client)
    threads = {a: w["nthreads"] for a, w in workers.items()}
    if not threads:
        raise RuntimeError("no Dask workers to send tasks to")
    return threads


@dataclass
class Groups:
    """One round trip's groups, as the client follows them: which tasks of each group have
    not answered yet, and which items came back."""

    r: int  # the repeat
    token: str  # the round trip's unique key suffix
    group_of: dict[str, str] = field(default_factory=dict)  # task key -> its group
    items: dict[str, list] = field(default_factory=dict)  # group -> its (pass, batch) items
    left: dict[str, set] = field(default_factory=dict)  # group -> keys not answered yet
    #: (pass, batch) of each item that came back; a later result of the same item (tasks of
    #: one group that Dask placed on two processes each drain the whole group) is dropped
    received: set = field(default_factory=set)
    redone: list = field(default_factory=list)  # (pass, batch) sent again as per-batch tasks
    errors: dict[str, str] = field(default_factory=dict)  # group -> a task's failure

    def answered(self, ctx, key: str, error: str | None) -> tuple[list, dict]:
        """Task ``key`` answered: with a result, or with ``error`` when it failed on every
        attempt. When it was its group's last task to answer, the group's items that got
        no result are sent again, a per-batch task each (fresh keys, retries=task_retries):
        returns their (futures, key -> ([item], submit time)); nothing otherwise (and for
        a per-batch task)."""
        group = self.group_of.get(key)
        if group is None:
            return [], {}
        self.left[group].discard(key)
        if error is not None:
            self.errors[group] = error
        items = [item for item in self.items[group] if item not in self.received]
        if self.left[group] or not items:
            return [], {}
        name = ctx.settings["name"]
        keys, specs = taskspec.batch_tasks(
            ctx.spec_base, ctx.batches, name, self.r, self.token, items
        )
        sent = time.time()
        futures = ctx.client.map(
            tasks.analyse_batch, specs, key=keys, pure=False, retries=ctx.settings["task_retries"]
        )
        self.redone += items
        why = self.errors.get(group, "no result came back")
        print(
            f"filerate: per-thread tasks of phase {name} left {len(items)} batch(es) without a "
            f"result ({why}); they go again as per-batch tasks",
            file=sys.stderr,
        )
        return futures, {k: ([item], sent) for k, item in zip(keys, items, strict=True)}


def submit(ctx, r: int, token: str, passes: int, threads: dict[str, int]):
    """One task per worker thread; each worker process drains one group of batches (a
    contiguous share, in proportion to its threads) for every pass (engine.worklist).
    Returns (futures, key -> (the group's (pass, batch) items, submit time), Groups)."""
    submitted, futures, meta = time.time(), [], {}
    groups = Groups(r, token)
    name = ctx.settings["name"]
    total, at, cum = sum(threads.values()), 0, 0
    for g, (addr, n) in enumerate(sorted(threads.items())):
        cum += n
        upto = round(len(ctx.batches) * cum / total)
        group = list(range(at, upto))
        at = upto
        if not group:
            continue
        items = [(p, b) for p in range(passes) for b in group]
        spec = {
            **ctx.spec_base,
            "group": f"{name}-r{r}-g{g}-{token}",
            "items": [(p, b, *ctx.batches[b]) for p, b in items],
            "tasks_in_group": n,
            "task_retries": ctx.settings["task_retries"],  # a batch that raises: in place
        }
        keys = [f"drain-{name}-r{r}-g{g}-t{t}-{token}" for t in range(n)]
        futures += ctx.client.map(
            worklist.drain,
            [spec] * n,
            key=keys,
            workers=[addr],
            allow_other_workers=True,  # a lost worker's group is redone elsewhere
            pure=False,
            retries=ctx.settings["task_retries"],
        )
        meta.update(dict.fromkeys(keys, (items, submitted)))
        groups.group_of.update(dict.fromkeys(keys, spec["group"]))
        groups.items[spec["group"]] = items
        groups.left[spec["group"]] = set(keys)
    return futures, meta, groups
