"""What a tune writes: points.tsv (every point measured, the Pareto front marked),
best.yaml (the config fragment with the ``tuned`` phase), tune.json (everything, read by
the HTML report) and the one sentence that says it all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from filerate import atomic, fmt
from filerate.tune.search import Measured

POINT_COLUMNS = (
    "point",
    "processes",
    "threads_per_process",
    "total_threads",
    "batch_size",
    "gpu_memory_gb",
    "files_per_s_median",
    "files_per_s_ci_low",
    "files_per_s_ci_high",
    "ci_attained",
    "repeats",
    "stop_reason",
    "files_error",
    "rss_bytes",
    "os_threads",
    "slot_utilisation",
    "read_share",
    "cpu_busy",
    "seconds",
    "pareto",
    "best",
)


def pareto(points: list[Measured]) -> set[int]:
    """Indices of the points no other point beats on files/s, memory (RSS) and threads at
    once (at least as good on all three, better on one); points with errors are out."""
    ok = [(i, m) for i, m in enumerate(points) if m.ok]

    def key(m: Measured) -> tuple[float, float, float]:
        return (m.median, -float(m.extra.get("rss_bytes") or 0), -_threads(m))

    front = set()
    for i, m in ok:
        km = key(m)
        dominated = any(
            all(a >= b for a, b in zip(key(o), km, strict=True)) and key(o) != km
            for j, o in ok
            if j != i
        )
        if not dominated:
            front.add(i)
    return front


def _threads(m: Measured) -> int:
    return m.point.processes * m.point.threads


def points_frame(points: list[Measured], best: Measured | None) -> pd.DataFrame:
    front = pareto(points)
    rows = []
    for i, m in enumerate(points):
        e = m.extra
        rows.append(
            {
                "point": i + 1,
                "processes": m.point.processes,
                "threads_per_process": m.point.threads,
                "total_threads": _threads(m),
                "batch_size": m.point.batch_size,
                "gpu_memory_gb": m.point.gpu_memory_gb,
                "files_per_s_median": m.median,
                "files_per_s_ci_low": m.low,
                "files_per_s_ci_high": m.high,
                **{k: e.get(k) for k in POINT_COLUMNS[9:19]},
                "pareto": i in front,
                "best": m is best,
            }
        )
    return pd.DataFrame(rows, columns=list(POINT_COLUMNS))


def plan_won(comparison: dict | None) -> bool:
    """The plan's settings measured faster than the search's best beyond the ratio's CI."""
    r = (comparison or {}).get("ratio")
    return bool(r) and r["high"] < 1


def sentence(result: dict) -> str:
    """best here: X files/s [CI] with P processes × T threads, batch B; the plan's turbo
    settings: Y files/s [CI] — n× slower (from the interleaved comparison)."""
    c = result.get("comparison") or {}
    best, plan = c.get("best"), c.get("plan")
    if not best or not plan:
        return "no setting read every file: no best setting"
    p = best["point"]
    gpu = f", {p['gpu_memory_gb']:g} GiB device budget per thread" if p.get("gpu_memory_gb") else ""
    bci, pci = best["files_per_s_ci"] or {}, plan["files_per_s_ci"] or {}
    text = (
        f"best here: {fmt.rate_ci(best['files_per_s_median'], bci.get('low'), bci.get('high'))} "
        f"with {p['processes']} process{'es' if p['processes'] != 1 else ''} × "
        f"{p['threads']} thread{'s' if p['threads'] != 1 else ''}, batch "
        f"{fmt.num(p['batch_size'])}{gpu}; the plan's {result['compare_phase']} settings "
        f"({plan['processes']} × {plan['threads_per_process']} threads, batch "
        f"{fmt.num(plan['point']['batch_size'])}): "
        f"{fmt.rate_ci(plan['files_per_s_median'], pci.get('low'), pci.get('high'))}"
    )
    r = c.get("ratio")
    if r:
        ci = f"95 % CI of the ratio {fmt.ratio(r['low'])}–{fmt.ratio(r['high'])}"
        if r["low"] <= 1 <= r["high"]:
            text += f" — no difference beyond the CIs (best/plan {fmt.ratio(r['ratio'])}, {ci})"
        elif r["ratio"] > 1:
            text += f" — {fmt.ratio(r['ratio'])} slower ({ci})"
        else:
            text += f" — {fmt.ratio(1 / r['ratio'])} faster than the best ({ci})"
    if result.get("winner") == "plan":
        text += (
            f"; the search stopped ({result.get('stop_reason')}) after "
            f"{result.get('points_measured')} of {result.get('grid_size')} points, so "
            f"best.yaml keeps the plan's {result['compare_phase']} settings"
        )
    return text


def best_yaml(fragment: dict, result: dict) -> str:
    """best.yaml: the fragment with a comment header saying where it came from."""
    head = [
        "# filerate tune: the best setting measured on this machine (docs/TUNE.md).",
        f"# {result['sentence']}",
        f"# fingerprint {result['fingerprint_digest']}: {result['fingerprint']['cpu_model']}, "
        f"{result['fingerprint']['usable_cpus']} CPUs",
        "# Run it as a phase: snakemake --cores all results/phases/tuned/validation.json "
        "--configfile results/tune/best.yaml",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(fragment, sort_keys=False)


def write_all(out: Path, frame: pd.DataFrame, fragment: dict, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "points.tsv", frame.to_csv(sep="\t", index=False))
    atomic.write_text(out / "best.yaml", best_yaml(fragment, result))
    atomic.write_json(out / "tune.json", result)
