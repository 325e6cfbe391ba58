"""Soak: a phase that runs for ``duration_s`` and is judged on whether anything drifts.

Each interval (one time-based repeat) records files/s and, at its end, what the process
tree holds: resident and unique memory (RSS, USS), open file descriptors and threads,
plus the RAM disk's use. ``assess`` fits each series (confidence.drift) and calls the
run "stable" only if none of them drifts: files/s must not fall, memory, descriptors,
threads and RAM-disk use must not climb.
"""

from __future__ import annotations

import shutil

import psutil

from filerate.confidence import drift

MIN_INTERVALS = 6

#: metric -> (relative tolerance %, absolute tolerance); a leak of one descriptor or
#: thread is a drift, memory and files/s may wander by a few percent
TOLERANCES = {
    "files_per_s": (10.0, 0.0),
    "rss_bytes": (10.0, 16 << 20),
    "uss_bytes": (10.0, 16 << 20),
    "open_fds": (0.0, 1.0),
    "threads": (0.0, 1.0),
    "ramdisk_used_bytes": (5.0, 16 << 20),
}


def tree_usage(pid: int | None = None, ramdisk: str | None = None) -> dict:
    """RSS, USS, open descriptors and threads of a process and all its children, and the
    RAM disk's use; a process that exits while being read is left out."""
    me = psutil.Process(pid)
    try:
        procs = [me, *me.children(recursive=True)]
    except psutil.Error:
        procs = [me]
    out = {"rss_bytes": 0, "uss_bytes": 0, "open_fds": 0, "threads": 0}
    for p in procs:
        try:
            with p.oneshot():
                mem = p.memory_full_info()  # USS needs /proc/PID/smaps: a few ms per process
                out["rss_bytes"] += mem.rss
                out["uss_bytes"] += mem.uss
                out["open_fds"] += p.num_fds()
                out["threads"] += p.num_threads()
        except psutil.Error:
            continue
    out["ramdisk_used_bytes"] = shutil.disk_usage(ramdisk).used if ramdisk else None
    return out


def assess(intervals: list[dict]) -> dict:
    """The soak verdict from per-interval records (``t`` seconds since the start, plus the
    TOLERANCES metrics): each metric's drift, first vs last interval, and ``stable``."""
    t = [r["t"] for r in intervals]
    metrics = {}
    for name, (rel, absolute) in TOLERANCES.items():
        ys = [r.get(name) for r in intervals]
        if not ys or any(y is None for y in ys):
            continue
        d = drift(t, ys, rel_tol_pct=rel, abs_tol=absolute)
        bad = d.drifts and (d.change < 0 if name == "files_per_s" else d.change > 0)
        metrics[name] = {**d.as_dict(), "first_interval": ys[0], "last_interval": ys[-1]}
        metrics[name]["drifts"] = bool(bad)
    drifting = sorted(k for k, m in metrics.items() if m["drifts"])
    if drifting:
        verdict = "drifting"
    elif len(intervals) < MIN_INTERVALS:
        verdict = "too short"  # a trend needs a few points
    else:
        verdict = "stable"
    return {
        "intervals": len(intervals),
        "metrics": metrics,
        "drifting": drifting,
        "verdict": verdict,
    }
