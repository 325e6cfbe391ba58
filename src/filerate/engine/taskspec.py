"""What every task of a phase is told: the spec (manifest, data directory, analysis, limits)
and the manifest's rows cut into batches. Shared by `filerate process`, `filerate tune` and
the benches, so all of them submit exactly the same work."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from filerate.units import gib_to_bytes

TEST_FAULT_ENV = "FILERATE_TEST_FAULT"


def injected_fault(settings: dict) -> dict | None:
    """The fault to inject (tests only): settings' ``_test_fault`` or $FILERATE_TEST_FAULT."""
    fault = settings.get("_test_fault")
    if fault is None and os.environ.get(TEST_FAULT_ENV):
        fault = json.loads(os.environ[TEST_FAULT_ENV])
    return fault


def task_spec(settings: dict, manifest_path: str, data_dir: str) -> dict:
    """What every task of the phase is told (the row range and device are added later)."""
    spec = {
        "phase": settings["name"],
        "manifest": str(Path(manifest_path).resolve()),
        "data_dir": str(Path(data_dir).resolve()),
        "analysis": settings["analysis"],
        "max_file_bytes": settings["max_file_bytes"],
        "gpu_budget_bytes": gib_to_bytes(settings["gpu_memory_per_worker_gb"]),
    }
    if settings["analysis"] == "full":
        spec["minhash"] = settings["minhash"]
    fault = injected_fault(settings)
    if fault:
        spec["_test_fault"] = fault
        print(f"filerate process: warning: injecting a test fault: {fault}", file=sys.stderr)
    return spec


def batch_tasks(spec_base, batches, name, r, token, items, last_pass=None):
    """Keys and specs of one per-batch task for each (pass, batch) of ``items`` in repeat
    ``r`` (``token``: the round trip's unique suffix); a pass before ``last_pass`` asks for
    counts only (TaskResult.summary_only)."""
    keys = [f"analyse-{name}-r{r}-p{p}-b{b}-{token}" for p, b in items]
    specs = [
        {
            **spec_base,
            "start": batches[b][0],
            "stop": batches[b][1],
            "summary_only": last_pass is not None and p < last_pass,
        }
        for p, b in items
    ]
    return keys, specs


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """Manifest rows [lo, hi) of each batch."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]
