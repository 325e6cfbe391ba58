#!/usr/bin/env python3
"""Check and summarise a workflow's results for `make slurm-demo`: every phase validated
(every file accounted for, no mismatch), with the Slurm job(s) it ran in or started.

    python3 tools/slurm/check_results.py RESULTS_DIR   # exit 1 if any phase failed
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summarise(phase_dir: Path) -> tuple[bool, str]:
    run = json.loads((phase_dir / "run.json").read_text())
    val = json.loads((phase_dir / "validation.json").read_text())
    s = run["summary"]
    alloc = run.get("slurm") or {}
    where = []
    if alloc:
        exclusive = " (exclusive)" if alloc.get("exclusive") else ""
        where.append(f"in Slurm job {alloc['job_id']} on {alloc.get('slurmd_nodename')}{exclusive}")
    jobs = ((run.get("cluster") or {}).get("slurm") or {}).get("jobs") or {}
    if jobs:
        ids = ", ".join(sorted(str(j["job_id"]) for j in jobs.values()))
        where.append(f"Dask workers in Slurm jobs {ids}")
    staging = run.get("staging") or {}
    if staging.get("mode") == "per_worker":
        where.append(f"staged per worker ({len(staging['workers'])} workers)")
    line = (
        f"{run['phase']:24} {'ok' if val['ok'] else 'FAILED':6} {val['manifest_files']:>6} files, "
        f"{s['files_ok']} ok, {val['mismatches']} mismatches, "
        f"{s['files_per_s_median']:>9,.0f} files/s ({run['backend']['used']}) {'; '.join(where)}"
    )
    return bool(val["ok"]), line


def main(argv: list[str]) -> int:
    results = Path(argv[1] if len(argv) > 1 else "results")
    phases = sorted(p for p in (results / "phases").iterdir() if (p / "run.json").exists())
    if not phases:
        print(f"check_results: no phase results under {results}", file=sys.stderr)
        return 1
    ok = True
    for phase_dir in phases:
        good, line = summarise(phase_dir)
        ok &= good
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
