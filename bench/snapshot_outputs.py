"""Digest of filerate's outputs for a fixed config, timings aside: run it before and after a
refactor and diff the two JSON files (`diff before.json after.json` must be empty).

    python bench/snapshot_outputs.py OUT.json

It runs the real workflow on a tiny fixed config in a temporary directory, then records:
every non-timing column of each phase's files.parquet (as a digest and the row count), the
validation.json fields that do not depend on time, the columns of throughput.tsv, and the
bottleneck verdicts (limiting-resource rule ids and labels) of the canonical synthetic
phases in tests/fixtures_runs.py, whose timings are fixed, so their verdicts are too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG = """
ramdisk: {{root: {ramdisk}, min_free_memory_gb: 0.1}}
corpora:
  a: {{files: 400, seed: 5}}
phases:
  first:  {{corpus: a, backend: cpu, workers: 2, batch_size: 100, analysis: light, repeats: 2}}
  second: {{corpus: a, backend: cpu, workers: 2, batch_size: 150, analysis: minimal,
            staging: false, repeats: 2}}
"""
TIMING = ("_s", "_ns", "_ts", "worker", "thread", "attempt", "batch", "task")


def _digest(frame: pd.DataFrame) -> str:
    keep = [c for c in frame.columns if not any(t in c for t in TIMING)]
    frame = frame[sorted(keep)].sort_values("path").reset_index(drop=True)
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def workflow_outputs(tmp: Path) -> dict:
    work = tmp / "wf"
    work.mkdir()
    shutil.copy(ROOT / "Snakefile", work / "Snakefile")
    shutil.copytree(ROOT / "workflow", work / "workflow", symlinks=False)
    if (ROOT / "envs").is_dir():
        shutil.copytree(ROOT / "envs", work / "envs")
    (work / "config").mkdir()
    ramdisk = Path("/dev/shm") / f"filerate-snap-{uuid.uuid4().hex[:8]}"
    (work / "config" / "config.yaml").write_text(CONFIG.format(ramdisk=ramdisk))
    subprocess.run(
        [str(BIN / "snakemake"), "--cores", "2", "--directory", str(work), "--quiet"],
        check=True,
        cwd=work,
    )
    shutil.rmtree(ramdisk, ignore_errors=True)
    res = work / "results"
    out: dict = {}
    for phase in ("first", "second"):
        files = pd.read_parquet(res / "phases" / phase / "files.parquet")
        val = json.loads((res / "phases" / phase / "validation.json").read_text())
        out[phase] = {
            "files_columns": sorted(files.columns),
            "files_rows": len(files),
            "files_digest": _digest(files),
            "validation": {k: v for k, v in val.items() if not k.endswith("_s")},
        }
    table = pd.read_csv(res / "tables" / "throughput.tsv", sep="\t")
    out["throughput_columns"] = list(table.columns)
    return out


def fixture_verdicts(tmp: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    import fixtures_runs
    from filerate.reports import load

    try:
        from filerate.reports import bottlenecks
    except ImportError:
        from filerate.reports import bottlenecks
    out = {}
    for name in ("io_bound", "oversubscribed", "scheduler_bound", "too_few_batches"):
        path = getattr(fixtures_runs, name)(tmp / name)
        phases = load.load_phases([path])
        report = bottlenecks.analyse(phases)
        out[name] = {
            "phases": [
                {
                    "limit": p["limit"],
                    "processing_limit": p["processing_limit"],
                    "findings": p["findings"],
                    "recommendation": p["recommendation"],
                }
                for p in report["phases"]
            ],
            "markdown_sha256": hashlib.sha256(
                bottlenecks.to_markdown(report).encode()
            ).hexdigest(),
        }
    return out


def main() -> int:
    target = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as d:
        snap = {"workflow": workflow_outputs(Path(d)), "verdicts": fixture_verdicts(Path(d))}
    target.write_text(json.dumps(snap, indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
