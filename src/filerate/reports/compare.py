"""``filerate compare A B``: which phases got faster or slower between two runs, and which
changes are only noise or machine drift.

A and B are history entries (``results/history/<run id>``, by path, id or id prefix) or
results folders; with no argument the two newest entries, with one that run against the
newest. Per phase present in both:

- **files/s**: each run's median of its timed repeats with its 95 % CI, and the change
  B / A with a 95 % bootstrap CI from the per-repeat files/s stored in run.json
  (``confidence.ratio_ci``). Runs without per-repeat values fall back to the medians'
  CIs (they must not overlap).
- **fraction of the floor** (filerate's files/s over a bare compiled read loop measured
  in the same rounds): steadier than files/s when the machine itself drifts, since both
  share its state. Its intervals must not overlap.
- **settings that differ** (corpus size, analysis, batch, threads, backend, staging,
  cache, CPUs, host): a change there explains a change in files/s better than noise does.

A change is *real* (faster / slower) only when its CI excludes no change **and** it is at
least ``--threshold`` percent (default 10, as asv's ``--factor 1.1``): the repeats of one
run do not see the drift between runs, so two runs of the same commit can differ beyond
their CIs (docs/COMPARE.md, measured). A change whose CI excludes 0 but that is smaller is
*below threshold*. Where both runs measured the floor and files/s changed for real but
the fraction of the floor did not, the verdict is *machine drift* (the floor moved too).

Output: a terminal table (default), ``--markdown`` or ``--json``; ``--fail-if-slower``
exits 1 when a phase's verdict is slower (real), never for drift, noise or a change below
the threshold (for CI jobs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from filerate import history
from filerate.confidence import median_ci, ratio_ci
from filerate.errors import UserError
from filerate.fmt import MISSING, as_number
from filerate.reports.compare_text import markdown, terminal
from filerate.stats import timed_files_per_s

#: smallest change, in % of A, that counts as real (asv's default factor is 1.1)
THRESHOLD_PCT = 10.0

#: run.json settings whose change makes two runs measure different things
COMPARED_SETTINGS = (
    ("corpus files", lambda r: (r.get("corpus") or {}).get("files")),
    ("analysis", lambda r: (r.get("settings") or {}).get("analysis")),
    ("batch", lambda r: (r.get("settings") or {}).get("batch_size")),
    ("threads", lambda r: (r.get("cluster") or {}).get("total_threads")),
    ("backend", lambda r: (r.get("backend") or {}).get("used")),
    ("staged", lambda r: (r.get("corpus") or {}).get("staged")),
    ("cache", lambda r: (r.get("settings") or {}).get("cache")),
    ("CPUs", lambda r: (r.get("hardware") or {}).get("usable_cpus")),
    ("host", lambda r: (r.get("hardware") or {}).get("hostname")),
)


def load_side(path: Path, names: list[str] | None = None) -> dict:
    """One run to compare: its label, entry record (None for a results folder) and each
    phase's run.json, in table order."""
    entry = history.read_entry(path) or None
    names = names or (entry or {}).get("phases") or history.phase_names(path)
    runs = {}
    for name in names:
        try:
            runs[name] = json.loads((path / "phases" / name / "run.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
    label = (entry or {}).get("run_id") or str(path)
    return {"label": label, "path": str(path), "entry": entry, "runs": runs}


def throughput(run: dict) -> dict:
    """Median files/s with its CI (run.json's, else from the repeats) and the repeats."""
    s = run.get("summary") or {}
    values = timed_files_per_s(run)
    ci = s.get("files_per_s_ci") or {}
    median = as_number(s.get("files_per_s_median"))
    low, high = as_number(ci.get("low")), as_number(ci.get("high"))
    if values and (median is None or low is None):
        m = median_ci(values)
        median, low, high = m.median, m.low, m.high
    return {"median": median, "low": low, "high": high, "values": values}


def floor_fraction(run: dict) -> dict | None:
    s = run.get("summary") or {}
    frac = as_number(s.get("fraction_of_floor"))
    if frac is None:
        return None
    ci = s.get("fraction_of_floor_ci") or {}
    return {"value": frac, "low": as_number(ci.get("low")), "high": as_number(ci.get("high"))}


def _direction(low: float | None, high: float | None, a_hi, a_lo, b_lo, b_hi) -> str:
    """'faster', 'slower' or 'within noise' from a ratio CI, else from two intervals."""
    if low is not None and high is not None:
        return "faster" if low > 1 else "slower" if high < 1 else "within noise"
    if None in (a_lo, a_hi, b_lo, b_hi):
        return "no CI"
    return "faster" if b_lo > a_hi else "slower" if b_hi < a_lo else "within noise"


def _large(ratio: float | None, threshold_pct: float) -> bool:
    """Whether B/A = ``ratio`` is a change of at least ``threshold_pct`` % either way."""
    return ratio is not None and abs(ratio - 1) * 100 >= threshold_pct


def change(a: dict, b: dict, threshold_pct: float = THRESHOLD_PCT) -> dict:
    """B's files/s against A's: the ratio, its CI, the method and the verdict before the
    floor is looked at: faster / slower (CI excludes 1 and at least the threshold), below
    threshold (CI excludes 1, smaller), within noise, no CI or no data."""
    if a["median"] is None or b["median"] is None or not a["median"]:
        return {"ratio": None, "low": None, "high": None, "method": None, "verdict": "no data"}
    ratio, low, high, method = b["median"] / a["median"], None, None, "medians' CIs"
    if len(a["values"]) >= 2 and len(b["values"]) >= 2 and statistics.median(a["values"]):
        ci = ratio_ci(b["values"], a["values"])
        ratio, low, high, method = ci.ratio, ci.low, ci.high, "bootstrap CI of the repeats"
    verdict = _direction(low, high, a["high"], a["low"], b["low"], b["high"])
    if verdict in ("faster", "slower") and not _large(ratio, threshold_pct):
        verdict = "below threshold"
    return {"ratio": ratio, "low": low, "high": high, "method": method, "verdict": verdict}


def floor_change(a: dict | None, b: dict | None, threshold_pct: float = THRESHOLD_PCT):
    """The fraction of the floor, A → B: its ratio and a verdict (closer to / further from
    the floor when the intervals do not overlap and it moved by at least the threshold;
    below threshold; within noise; no CI), or None unless both runs measured the floor."""
    if a is None or b is None:
        return None
    verdict = _direction(None, None, a["high"], a["low"], b["low"], b["high"])
    moved = b["value"] / a["value"] if a["value"] else None
    if verdict in ("faster", "slower") and not _large(moved, threshold_pct):
        verdict = "below threshold"
    elif verdict == "faster":
        verdict = "closer to the floor"
    elif verdict == "slower":
        verdict = "further from the floor"
    return {"a": a, "b": b, "ratio": moved, "verdict": verdict}


def drift(ch: dict, floor: dict | None) -> dict:
    """``ch`` with verdict 'machine drift' where files/s changed for real but the fraction
    of the floor, measured in both runs, did not (the floor moved with it)."""
    steady = ("within noise", "below threshold")
    if ch["verdict"] in ("faster", "slower") and floor and floor["verdict"] in steady:
        return ch | {"verdict": "machine drift", "raw_verdict": ch["verdict"]}
    return ch


def settings_differ(a: dict, b: dict) -> list[str]:
    """'batch 500 → 1,000' for each compared setting that differs."""
    out = []
    for label, get in COMPARED_SETTINGS:
        va, vb = get(a), get(b)
        if va != vb:
            out.append(f"{label} {_setting(va)} → {_setting(vb)}")
    return out


def _setting(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def compare_phase(name: str, run_a: dict, run_b: dict, threshold_pct=THRESHOLD_PCT) -> dict:
    a, b = throughput(run_a), throughput(run_b)
    floor = floor_change(floor_fraction(run_a), floor_fraction(run_b), threshold_pct)
    return {
        "phase": name,
        "a": {k: a[k] for k in ("median", "low", "high")} | {"repeats": len(a["values"])},
        "b": {k: b[k] for k in ("median", "low", "high")} | {"repeats": len(b["values"])},
        "change": drift(change(a, b, threshold_pct), floor),
        "floor": floor,
        "settings_differ": settings_differ(run_a, run_b),
    }


def compare(side_a: dict, side_b: dict, threshold_pct: float = THRESHOLD_PCT) -> dict:
    """The whole comparison (what --json prints)."""
    names = list(side_a["runs"]) + [n for n in side_b["runs"] if n not in side_a["runs"]]
    phases, only = [], {"a": [], "b": []}
    for name in names:
        ra, rb = side_a["runs"].get(name), side_b["runs"].get(name)
        if ra is None or rb is None:
            only["a" if rb is None else "b"].append(name)
            continue
        phases.append(compare_phase(name, ra, rb, threshold_pct))
    return {
        "a": {k: side_a[k] for k in ("label", "path")},
        "b": {k: side_b[k] for k in ("label", "path")},
        "threshold_pct": threshold_pct,
        "rule": "a change is real when the 95 % CI of B/A excludes 1 (bootstrap of the "
        "per-repeat files/s, or without repeats the medians' CIs do not overlap) and it is "
        f"at least {threshold_pct:g} %; machine drift when the fraction of the floor, "
        "measured in both runs, shows no real change",
        "phases": phases,
        "only_in_a": only["a"],
        "only_in_b": only["b"],
    }


def pick(refs: list[str], root: Path) -> tuple[Path, Path]:
    """A and B from 0, 1 or 2 references (see the module docstring)."""
    if len(refs) > 2:
        raise UserError("give at most two runs: filerate compare [A [B]]")
    if len(refs) == 2:
        return history.resolve(refs[0], root), history.resolve(refs[1], root)
    known = history.entries(root)
    if len(refs) == 1:
        if not known:
            raise UserError(f"no runs kept in {root} to compare {refs[0]} with")
        return history.resolve(refs[0], root), known[-1]
    if len(known) < 2:
        raise UserError(
            f"{root} holds {len(known)} run(s); compare needs two: run the workflow again "
            "(e.g. `snakemake --cores all --forcerun process`) or name two results folders"
        )
    return known[-2], known[-1]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="per-phase change between two runs, with CIs: real or within noise",
        description=__doc__.split("\n\n")[0].replace("``", "")
        + ". With no run named: the two newest in --history-dir. See docs/COMPARE.md.",
    )
    p.add_argument("runs", nargs="*", metavar="RUN", help="history entry (path, id, id prefix)")
    p.add_argument("--history-dir", default="results/history", metavar="DIR")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="a Markdown table")
    out.add_argument("--json", action="store_true", help="the comparison as JSON")
    p.add_argument(
        "--threshold",
        type=_threshold,
        default=THRESHOLD_PCT,
        metavar="PCT",
        help=f"smallest change that counts as real, %% (default {THRESHOLD_PCT:g})",
    )
    p.add_argument(
        "--fail-if-slower",
        action="store_true",
        help="exit 1 when a phase's verdict is slower (real): not for drift, noise or a "
        "change below the threshold",
    )
    p.set_defaults(func=run)


def _threshold(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        value = -1.0
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage from 0 (e.g. 10)")
    return value


def run(args: argparse.Namespace) -> int:
    path_a, path_b = pick(args.runs, Path(args.history_dir))
    result = compare(load_side(path_a), load_side(path_b), args.threshold)
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.markdown:
        print(markdown(result))
    else:
        print(terminal(result))
    slower = [p["phase"] for p in result["phases"] if p["change"]["verdict"] == "slower"]
    if args.fail_if_slower and slower:
        print(
            f"filerate compare: slower beyond the CI and the {args.threshold:g} % threshold: "
            + ", ".join(slower),
            file=sys.stderr,
        )
        return 1
    return 0
