"""throughput.tsv's columns, in order, and what each means: the one definition, which
docs/DATA.md and README.md carry verbatim (``python -m filerate.reports.tables --glossary``
prints it; a test keeps them equal)."""

from __future__ import annotations

from filerate.reports import measured

#: throughput.tsv's columns, in order -> meaning (the one definition; see the docstring)
GLOSSARY = {
    "phase": "phase name (run.json `phase`)",
    "status": "`ok`, or `timeout` when the phase hit its time limit",
    "backend": "backend used: `cpu`, `gpu` or `external`",
    "devices": "what ran the tasks: `cpu (N cores)` or the GPU ids seen in batches.parquet "
    "(`gpu:0`)",
    "corpus": "corpus name",
    "corpus_files": "files in the corpus",
    "corpus_mb": "corpus size, MB",
    "analysis": "analysis level: `minimal`, `light` or `full`",
    "staged": "`true` if the corpus was read from the RAM-disk copy, `false` if in place",
    "cache": "page-cache state of the timed repeats: `warm`; `cold` (the corpus evicted "
    "before every repeat, verified with mincore); `not cold` (cold was asked for but a "
    "repeat was not, e.g. a corpus on tmpfs: its figures are warm ones); `ramdisk (source "
    "cold)` (staged from an evicted source, then read from RAM)",
    "resident_pct_max": "largest share of the sampled corpus pages in the page cache just "
    "before a timed repeat, % (mincore)",
    "cpu_count": "CPUs the run could use",
    "processes": "Dask worker processes",
    "threads_per_process": "threads per worker process",
    "total_threads": "processes × threads: the task slots",
    "batch_size": "files per task",
    "repeats": "timed repeats (after the warm-up), each whole passes for at least `min_repeat_s`",
    "startup_s": "cluster start-up, s",
    "staging_s": "copying the corpus to the RAM disk, s (0 when not staged)",
    "wall_s_median": "median wall time of one timed repeat, first submit to last result placed, s",
    "files_per_s_median": "median files/s over the timed repeats (files processed ok)",
    "files_per_s_min": "slowest timed repeat, files/s",
    "files_per_s_max": "fastest timed repeat, files/s",
    "mb_per_s_median": "median MB/s of the files processed ok over the timed repeats",
    "listing_s": "the directory walk that finds the files, s (cold where drop_caches ran "
    "before it, else warm: fadvise leaves dentries cached)",
    "files_per_s_with_listing": "median files/s with one listing added before every pass "
    "of each repeat",
    "cv_pct": "spread: coefficient of variation of files/s over the timed repeats, % "
    "(population s.d. / mean, as run.json `summary`)",
    "stability": "`stable`: the CI of the median met `ci_target_pct`; `unstable`: it did "
    "not (see others_cpu_pct); `single repeat`. Runs without a CI: cv_pct > "
    "`--unstable-cv-pct` is unstable",
    **measured.GLOSSARY,
    "speedup_vs_baseline": "files_per_s_median / the baseline's files_per_s_median",
    "speedup_min": "files_per_s_min / the baseline's files_per_s_max (worst case)",
    "speedup_max": "files_per_s_max / the baseline's files_per_s_min (best case)",
    "speedup_ci_low": "95 % bootstrap CI of speedup_vs_baseline (timed repeats), low end",
    "speedup_ci_high": "and high end",
    "target_files_per_s": "the plan's target for this phase",
    "target_met": "`met` if files_per_s_median >= the target, else `missed`",
    "gate_files_per_s": "the plan's intermediate gate for this phase",
    "gate_met": "`met` / `missed`, as for the target",
    "ramdisk_staged_mb": "RAM disk occupied by the staged copy (staging `occupied_bytes`), MB",
    "ramdisk_growth_mb": "growth of RAM-disk use during the phase: the maximum of resources "
    "`ramdisk_used_bytes` minus its first sample, MB",
    "ramdisk_peak_mb": "ramdisk_staged_mb + ramdisk_growth_mb: the phase's footprint, MB",
    "ramdisk_budget_mb": "the phase's RAM-disk budget, MB (staging `budget_bytes`, else "
    "`ramdisk_budget_gb` × 2^30 bytes)",
    "ramdisk_within_budget": "`true` if ramdisk_peak_mb <= ramdisk_budget_mb",
    "files_error": "files in error in the last timed repeat",
    "mismatches": "results that differ from the manifest (validation.json)",
    "validation_ok": "validation.json `ok`: every file accounted for, no mismatch",
    **measured.LATENCY_GLOSSARY,
}
COLUMNS = list(GLOSSARY)


def glossary_markdown() -> str:
    """:data:`GLOSSARY` as the Markdown table docs/DATA.md and README.md show."""
    rows = [f"| `{col}` | {meaning} |" for col, meaning in GLOSSARY.items()]
    return "\n".join(["| column | meaning |", "|---|---|", *rows]) + "\n"
