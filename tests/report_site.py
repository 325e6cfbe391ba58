"""The report every report test reads: four simulated phases (a baseline, an
oversubscribed unstable one with a RAM-disk budget and validation failures, an I/O-bound
one and one on a simulated GPU), their tables, bottleneck report and HTML page. Built once
per test session (conftest's ``report_site``)."""

from __future__ import annotations

from pathlib import Path

from fixtures_runs import build_phase, io_bound, oversubscribed, phase_args, run_cli


def build_site(root: Path) -> dict:
    """Four simulated phases, their tables, bottleneck report and HTML report under root."""
    paths = [
        build_phase(root / "phases", "baseline", target=1000, kernel_warmup_s=0.3),
        oversubscribed(
            root / "phases",
            "legendary",
            target=7000,
            gate=3000,
            ramdisk_budget_gb=2,
            repeat_scale=[1.0, 1.5, 0.8],
            files_error=2,
            kernel_warmup_s=1.5,
            mismatches=1,
        ),
        io_bound(root / "phases", "turbo"),
        # ran on a (simulated) GPU: GPU columns in resources.parquet
        build_phase(root / "phases", "gpu", backend="gpu", gpus=1, gpu_util=20.0, target=10_000),
    ]
    args = phase_args(paths)
    tsv = root / "tables" / "throughput.tsv"
    bjs = root / "reports" / "bottlenecks.json"
    out = root / "report" / "index.html"
    plots_dir = root / "report" / "plots"
    assert (
        run_cli(
            [
                "tables",
                *args,
                "--unstable-cv-pct",
                "10",
                "--tsv",
                str(tsv),
                "--md",
                str(tsv.with_suffix(".md")),
            ]
        )
        == 0
    )
    assert (
        run_cli(
            [
                "bottlenecks",
                *args,
                "--predicted-gains",
                '{"workers":[150,200]}',
                "--md",
                str(bjs.with_suffix(".md")),
                "--json",
                str(bjs),
            ]
        )
        == 0
    )
    assert (
        run_cli(
            [
                "report",
                *args,
                "--tables",
                str(tsv),
                "--bottlenecks",
                str(bjs),
                "--plots-dir",
                str(plots_dir),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return {
        "paths": paths,
        "tsv": tsv,
        "bjs": bjs,
        "out": out,
        "plots": plots_dir,
        "html": out.read_text(),
        "root": root,
    }
