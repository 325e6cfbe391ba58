"""Per-worker throughput of one repeat, with IO500's stonewall view.

Times are seconds after the repeat's first submit. For each worker: its files, when its
first and its last batch finished (first_done, last_done) and its own rate, files ÷
last_done. Across workers: the aggregate rate is all files ÷ the last worker's last_done
(the repeat's wall time as the workers saw it); the stonewall is the moment the first
worker ran out of work (the smallest last_done), and stonewall_files_per_s counts only
the files finished by then, i.e. the rate while every worker was still busy. The gap
between the first and the last worker to finish (spread_s) is time some workers idled.
"""

from __future__ import annotations


def per_worker(rows: list[dict], start: float) -> dict | None:
    """Summarise a repeat's batch rows (worker, stop, files, errors); None without rows."""
    if not rows:
        return None
    workers: dict[str, dict] = {}
    for row in rows:
        done = row["stop"] - start
        w = workers.setdefault(
            row["worker"], {"worker": row["worker"], "files": 0, "batches": 0, "dones": []}
        )
        w["files"] += row["files"] - row["errors"]
        w["batches"] += 1
        w["dones"].append((done, row["files"] - row["errors"]))
    out = []
    for w in workers.values():
        dones = sorted(d for d, _ in w["dones"])
        out.append(
            {
                "worker": w["worker"],
                "files": w["files"],
                "batches": w["batches"],
                "first_done_s": dones[0],
                "last_done_s": dones[-1],
                "files_per_s": w["files"] / dones[-1] if dones[-1] > 0 else 0.0,
            }
        )
    out.sort(key=lambda w: w["worker"])
    stonewall = min(w["last_done_s"] for w in out)
    last = max(w["last_done_s"] for w in out)
    files = sum(w["files"] for w in out)
    by_stonewall = sum(n for w in workers.values() for d, n in w["dones"] if d <= stonewall)
    rates = [w["files_per_s"] for w in out]
    return {
        "workers": out,
        "files": files,
        "first_done_s": min(w["first_done_s"] for w in out),
        "stonewall_s": stonewall,
        "last_done_s": last,
        "spread_s": last - stonewall,
        "files_per_s": files / last if last > 0 else 0.0,
        "stonewall_files_per_s": by_stonewall / stonewall if stonewall > 0 else 0.0,
        "worker_files_per_s_min": min(rates),
        "worker_files_per_s_max": max(rates),
    }
