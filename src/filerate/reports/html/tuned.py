"""The HTML report's "Tuned" section, shown when `filerate tune` has left a result
(results/tune/tune.json, beside points.tsv and tune.png): the one sentence, the points
measured with the Pareto front marked, the plot, and where the numbers came from."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd

from filerate import fmt
from filerate.reports.html.markup import esc, raw, table, when


def _load(folder: Path) -> tuple[dict, pd.DataFrame | None, bytes | None] | None:
    try:
        result = json.loads((folder / "tune.json").read_text())
    except (OSError, ValueError):
        return None
    try:
        points = pd.read_csv(folder / "points.tsv", sep="\t")
    except (OSError, ValueError):
        points = None
    png = folder / "tune.png"
    return result, points, png.read_bytes() if png.is_file() else None


def _point_rows(points: pd.DataFrame) -> list[list]:
    rows = []
    for r in points.sort_values("files_per_s_median", ascending=False).itertuples():
        mark = "best" if r.best else "Pareto" if r.pareto else ""
        gpu = "" if pd.isna(r.gpu_memory_gb) else f"{r.gpu_memory_gb:g}"
        rows.append(
            [
                r.point,
                f"{r.processes} × {r.threads_per_process}",
                fmt.num(r.batch_size),
                gpu,
                fmt.rate_ci(r.files_per_s_median, r.files_per_s_ci_low, r.files_per_s_ci_high),
                f"{r.repeats} ({r.stop_reason})",
                fmt.size(r.rss_bytes),
                fmt.num(r.files_error),
                raw(f"<span class='ok'>{esc(mark)}</span>") if mark else "",
            ]
        )
    return rows


def _facts(result: dict) -> str:
    fp = result.get("fingerprint") or {}
    starts = ", ".join(
        f"{s['purpose']} {fmt.seconds(s['startup_s'])}" for s in result.get("startups") or []
    )
    cached = " (reused from the cache)" if result.get("from_cache") else ""
    return (
        f"<p class='muted'>Measured {esc(when(result.get('measured_at')))}{esc(cached)} on "
        f"{esc(fp.get('cpu_model'))}, {esc(fp.get('usable_cpus'))} CPUs; corpus "
        f"{esc(result.get('corpus'))} ({fmt.num(result.get('files'))} files, "
        f"{esc(result.get('analysis'))}, page cache {esc(result.get('cache'))}, "
        f"{'staged' if result.get('staged') else 'in place'}). "
        f"{fmt.num(result.get('points_measured'))} of {fmt.num(result.get('grid_size'))} "
        f"settings measured; search stopped: {esc(result.get('stop_reason'))}; "
        f"{fmt.seconds(result.get('wall_s'))} of a {fmt.seconds(result.get('budget_s'))} "
        f"budget. Cluster start-ups (not in files/s): {esc(starts or '—')}.</p>"
    )


def section_tuned(folder: str | Path | None) -> str:
    """The section, or "" without a folder or when it holds no tune result."""
    loaded = _load(Path(folder)) if folder else None
    if loaded is None:
        return ""
    result, points, png = loaded
    parts = [
        "<h2 id='tuned'>Tuned for this machine</h2>",
        f"<div class='card'><p><strong>{esc(result.get('sentence'))}</strong></p>",
        "<p>Run it as a phase: <code>snakemake --cores all results/phases/tuned/validation.json "
        "--configfile results/tune/best.yaml</code></p></div>",
        _facts(result),
    ]
    if png:
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f"<figure id='plot-tune'><img alt='tune plot' src='data:image/png;base64,{data}'>"
            "<figcaption>Left: files/s of every setting in the order the search measured "
            "it (95 % CI). Right: files/s against memory, the Pareto front in blue, the "
            "best in green; dashed: the plan's setting.</figcaption></figure>"
        )
    if points is not None and len(points):
        headers = [
            "#",
            "processes × threads",
            "batch",
            "GiB/thread (GPU)",
            "files/s [95 % CI]",
            "repeats",
            "RSS",
            "file errors",
            "",
        ]
        parts.append(table(headers, _point_rows(points), {0, 2, 4, 6, 7}))
    return "\n".join(parts)
