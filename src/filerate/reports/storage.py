"""Storage figures across phases: cache state labels and the staging break-even.

Break-even: staging costs ``S`` seconds once; each staged pass then takes ``R`` seconds
where a cold in-place pass takes ``C``. After ``N`` passes the in-place reader has spent
``N·C`` and the staging reader ``S + N·R``, so staging pays off from pass
``N = S / (C − R)`` on, and never when ``R ≥ C``. Both sides must be measured on the same
corpus, the in-place side from an evicted cache and the staging from an evicted source.
"""

from __future__ import annotations

import math
import statistics

from filerate import fmt
from filerate.engine import rounds


def break_even(staging_s: float, cold_pass_s: float, staged_pass_s: float) -> dict:
    """Passes after which staging has paid for itself (``passes``), or never (None)."""
    saving = cold_pass_s - staged_pass_s
    out = {
        "staging_s": staging_s,
        "cold_pass_s": cold_pass_s,
        "staged_pass_s": staged_pass_s,
        "saving_per_pass_s": saving,
    }
    if saving <= 0:
        out.update(passes=None, exact=None, verdict="never")
        return out
    exact = staging_s / saving
    out.update(passes=max(1, math.ceil(exact)), exact=exact, verdict="pays off")
    return out


def cache_label(run: dict) -> str:
    """warm, cold, "not cold" (asked for cold, a repeat was not), or ramdisk (staged)."""
    settings = run.get("settings", {})
    staged = run.get("corpus", {}).get("staged")
    if settings.get("cache", "warm") != "cold":
        return "warm"
    if staged:
        src = (run.get("staging") or {}).get("source_cache") or {}
        return "ramdisk (source cold)" if src.get("cold") else "ramdisk (source not cold)"
    timed = [r for r in run.get("repeats", []) if not r.get("warmup")]
    if timed and all((r.get("cache") or {}).get("cold") for r in timed):
        return "cold"
    return "not cold"


def listing_seconds(run: dict) -> float | None:
    """The listing that matches the phase's repeats: cold where one was measured and the
    repeats were cold, else warm."""
    lst = run.get("listing") or {}
    part = lst.get("cold") if cache_label(run) == "cold" and lst.get("cold") else lst.get("warm")
    return part.get("seconds") if part else None


def table_cells(run: dict) -> dict:
    """throughput.tsv's storage columns for one phase."""
    c = (run.get("summary") or {}).get("cache") or {}
    share = c.get("resident_share_max")
    return {
        "cache": cache_label(run),
        "resident_pct_max": share * 100 if share is not None else None,
        "listing_s": listing_seconds(run),
        "files_per_s_with_listing": (run.get("summary") or {}).get(
            "files_per_s_with_listing_median"
        ),
    }


def _pass_s(run: dict) -> float:
    """Median seconds of one pass over the timed repeats: a warm or staged repeat holds
    as many passes as last ``min_repeat_s``, an evicted one a single pass."""
    repeats = run.get("repeats") or []
    timed = [r for r in repeats if not r.get("warmup")]
    if not timed or any(r.get("wall_s") is None for r in timed):
        return float(run["summary"]["wall_s_median"])
    return statistics.median(rounds.pass_seconds(repeats))


def _staging_s(run: dict) -> float | None:
    staging = run.get("staging") or {}
    return staging.get("seconds") if staging.get("staged") else None


def break_evens(runs: list[dict]) -> list[dict]:
    """One break-even per staged phase whose source was evicted before the copy, against
    the cold in-place phase of the same corpus (same analysis level preferred)."""
    cold = [r for r in runs if cache_label(r) == "cold"]
    out = []
    for staged in runs:
        if cache_label(staged) != "ramdisk (source cold)" or _staging_s(staged) is None:
            continue
        same = [c for c in cold if c["corpus"]["name"] == staged["corpus"]["name"]]
        if not same:
            continue
        level = staged["settings"].get("analysis")
        same.sort(key=lambda c: c["settings"].get("analysis") != level)
        ref = same[0]
        rec = break_even(_staging_s(staged), _pass_s(ref), _pass_s(staged))
        rec.update(staged_phase=staged["phase"], in_place_phase=ref["phase"])
        rec["corpus"] = staged["corpus"]["name"]
        rec["files"] = staged["corpus"]["files"]
        out.append(rec)
    return out


def headline(rec: dict) -> str:
    """One sentence for the top of the reports."""
    base = (
        f"staging {fmt.num(rec['files'])} files from cold storage took "
        f"{fmt.seconds(rec['staging_s'])}; a staged pass takes "
        f"{fmt.seconds(rec['staged_pass_s'])} against "
        f"{fmt.seconds(rec['cold_pass_s'])} cold in place ({rec['staged_phase']} vs "
        f"{rec['in_place_phase']})"
    )
    if rec["passes"] is None:
        return f"The RAM disk does not help on this machine: {base}, so it never pays off."
    return (
        f"The RAM disk pays off from pass {rec['passes']} on "
        f"(break-even {fmt.num(rec['exact'], 1)} passes, if every in-place pass is cold): "
        f"{base}."
    )


def timed_window(run: dict, resources) -> dict:
    """Medians of the resource samples taken during the timed repeats (not warm-up)."""
    if resources is None or not len(resources) or "t" not in resources:
        return {}
    timed = [r for r in run.get("repeats", []) if not r.get("warmup")]
    mask = resources["t"] < 0  # all False
    for r in timed:
        mask |= (resources["t"] >= r["start"]) & (resources["t"] <= r["stop"])
    window = resources[mask]
    out = {}
    for col in (
        "cpu_pct",
        "iowait_pct",
        "disk_busy_pct",
        "disk_queue",
        "disk_reads_per_s",
        "disk_read_mb_per_s",
    ):
        if col in window and window[col].notna().any():
            out[col] = float(window[col].median())
    out["threads"] = (run.get("cluster") or {}).get("total_threads") or (
        (run.get("settings") or {}).get("resolved") or {}
    ).get("total_threads")
    out["samples"] = int(mask.sum())
    return out


def device_verdict(run: dict, resources) -> dict | None:
    """The storage rule on a phase's timed window (None without disk samples)."""
    from filerate.engine.disk import storage_verdict

    window = timed_window(run, resources)
    if not window.get("samples"):
        return None
    return storage_verdict(window)


def listing_cells(run: dict) -> tuple[str, str, str]:
    """Warm and cold listing seconds, and files/s with the listing included."""
    lst = run.get("listing") or {}
    warm = (lst.get("warm") or {}).get("seconds")
    cold = (lst.get("cold") or {}).get("seconds")
    incl = (run.get("summary") or {}).get("files_per_s_with_listing_median")
    return fmt.num(warm, 3), fmt.num(cold, 3), fmt.num(incl)


def section(runs: list[dict], resources: dict | None = None) -> list[str]:
    """Markdown: the break-even headline(s), cache state and listing per phase, and the
    storage-device verdict of each in-place phase."""
    resources = resources or {}
    lines = ["## Storage: cache state, listing and the RAM disk", ""]
    evens = break_evens(runs)
    if evens:
        lines += [f"- {headline(rec)}" for rec in evens] + [""]
    else:
        lines += [
            "- No staging break-even: it needs a cold in-place phase and a staged phase "
            "(cache: cold) of the same corpus.",
            "",
        ]
    lines += [
        "| phase | cache | eviction | resident before repeats | files/s | listing warm s "
        "| listing cold s | files/s incl. listing |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        c = (run.get("summary") or {}).get("cache") or {}
        share = c.get("resident_share_max")
        warm, cold, incl = listing_cells(run)
        lines.append(
            f"| {run['phase']} | {cache_label(run)} | {', '.join(c.get('methods') or []) or '-'} "
            f"| {fmt.pct(None if share is None else share * 100, 1)} "
            f"| {fmt.num(run['summary']['files_per_s_median'])} | {warm} | {cold} | {incl} |"
        )
    notes = sorted(
        {n for r in runs for n in ((r.get("summary") or {}).get("cache") or {}).get("notes", [])}
    )
    lines += [""] + [f"- {n}" for n in notes]
    for run in runs:
        v = device_verdict(run, resources.get(run["phase"]))
        if v and v["storage_limited"]:
            lines.append(
                f"- **{run['phase']}: limited by the storage device** ({v['evidence']}); "
                f"next change: {v['next_change']}"
            )
        elif v:
            lines.append(f"- {run['phase']}: storage device not the limit ({v['evidence']})")
    return lines + [""]
