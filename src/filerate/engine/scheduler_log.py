"""What the Dask scheduler saw during a repeat: workers lost or added, and how many times
each task was started (a task is started again after its worker died or it raised)."""

from __future__ import annotations

from filerate.engine import cluster


class SchedulerLog:
    """Workers the scheduler removed (unexpectedly) or added since the last look, from its
    "all" event log; where that log cannot be read, from the worker sets before and after."""

    def __init__(self, client):
        self.client = client
        events = self._events()
        self.seen = max((t for t, _ in events or ()), default=float("-inf"))
        self.workers = self._workers()

    def _events(self):
        try:
            return list(self.client.get_events("all"))
        except Exception:  # an old or unreachable scheduler
            return None

    def _workers(self) -> set[str]:
        try:
            return set(cluster.worker_info(self.client))
        except Exception:
            return set()

    def since_last(self) -> tuple[list[dict], list[str]]:
        """(lost workers as {worker, time, tasks_processing}, joined worker addresses)."""
        events = self._events()
        if events is None:
            return self._from_worker_sets()
        lost, joined = [], []
        for t, ev in events:
            if t <= self.seen or not isinstance(ev, dict):
                continue
            self.seen = max(self.seen, t)
            if ev.get("action") == "remove-worker" and not ev.get("expected"):
                lost.append(
                    {
                        "worker": ev.get("worker"),
                        "time": t,
                        "tasks_processing": len(ev.get("processing-tasks") or ()),
                    }
                )
            elif ev.get("action") == "add-worker":
                joined.append(ev.get("worker"))
        return lost, joined

    def _from_worker_sets(self) -> tuple[list[dict], list[str]]:
        now = self._workers()
        lost = [
            {"worker": w, "time": None, "tasks_processing": None}
            for w in sorted(self.workers - now)
        ]
        joined, self.workers = sorted(now - self.workers), now
        return lost, joined


def attempts(client, keys: list[str]) -> dict[str, int] | None:
    """How many times the scheduler started each task, from its transition log.

    A task is started again after its worker died (up to task_retries times, then
    KilledWorker) or after it raised (task_retries times). None when the scheduler's
    log cannot be read; a key missing from the log (a log shorter than the repeat) gets 0.
    """
    try:
        story = client.sync(client.scheduler.get_story, keys_or_stimuli=list(keys))
    except Exception:
        return None
    wanted = set(keys)
    counts = dict.fromkeys(keys, 0)
    for t in story:
        if t[0] in wanted and t[2] == "processing":
            counts[t[0]] += 1
    return counts
