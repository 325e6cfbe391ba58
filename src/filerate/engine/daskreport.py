"""Dask's own performance report for one extra, untimed repeat of a phase.

`distributed.performance_report` writes one self-contained HTML page (task stream, worker
profile, bandwidth, scheduler and worker logs) that Dask users know how to read; filerate
writes it with BokehJS inlined (~2 MB), so it opens without network access. Collecting
it costs something: a task-stream plugin on the scheduler while it records, then gathering
profiles and rendering Bokeh figures. So it never wraps a timed repeat: with
``dask_report: true`` the phase runs once more after its timed repeats, under the report,
and what that extra run cost is measured and recorded beside the report (run.json's
``dask_report``), never mixed into the timed figures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from filerate import atomic
from filerate.errors import UserError

#: the report's file name in the phase directory, results/phases/{phase}/
REPORT_NAME = "dask-report.html"


def check_available() -> None:
    """Fail before the cluster starts when the report cannot be rendered (it needs Bokeh)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise UserError(
            "dask_report: true needs bokeh to render Dask's performance report: "
            "pip install 'bokeh>=3.1,<3.10' (or set dask_report: false)"
        ) from None


def untimed_repeat(
    run_repeat: Callable[[], dict], out_dir: str | Path, timed_wall_s: list[float]
) -> dict:
    """Run ``run_repeat`` (one repeat of the phase, returning its record with ``wall_s``,
    ``files_ok``, ``files_error``) under ``performance_report``; write the report atomically
    to ``out_dir/dask-report.html``. Returns what run.json records of it.

    - ``repeat_wall_s`` / ``timed_wall_s_median``: the reported repeat against the timed ones
      (``repeat_slowdown_pct``: how much slower a repeat runs while the report records);
    - ``collect_s``: the time spent outside the repeat: gathering the profiles and task
      stream, rendering and writing the HTML;
    - ``extra_s``: what the report adds to the phase's wall time in all.
    """
    from distributed import performance_report

    target = Path(out_dir) / REPORT_NAME
    with atomic.atomic_path(target) as tmp:
        t0 = time.perf_counter()
        # BokehJS inlined: the page opens offline (an HPC node) and fetches nothing
        with performance_report(filename=str(tmp), mode="inline"):
            rec = run_repeat()
        extra = time.perf_counter() - t0
    median = statistics.median(timed_wall_s) if timed_wall_s else None
    wall = rec["wall_s"]
    return {
        "file": REPORT_NAME,
        "bytes": target.stat().st_size,
        "untimed": True,
        "repeat_wall_s": wall,
        "repeat_files_ok": rec["files_ok"],
        "repeat_files_error": rec["files_error"],
        "repeat_timed_out": bool(rec.get("timed_out")),
        "start": rec.get("start"),  # epoch seconds: where it lies in resources.parquet
        "stop": rec.get("stop"),
        "timed_wall_s_median": median,
        "repeat_slowdown_pct": (wall / median - 1) * 100 if median else None,
        "collect_s": extra - wall,
        "extra_s": extra,
    }
