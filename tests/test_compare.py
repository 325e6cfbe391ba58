"""Run history (filerate.history), `filerate compare` and the report's "since the last
run" section, on small synthetic run.json files (no workflow run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filerate import config as cfg
from filerate import history
from filerate.cli import main
from filerate.reports import compare, compare_text, measured
from filerate.reports.html.history import section_history
from filerate.reports.load import Phase

T0 = 1_764_300_000.0


def write_run(results: Path, phase: str, values, *, ci=None, floor=None, batch=1000, t=T0):
    """results/phases/<phase>/run.json with timed repeats ``values`` (files/s)."""
    reps = [{"repeat": 0, "warmup": True, "files_per_s": 1.0}]
    reps += [{"repeat": i + 1, "warmup": False, "files_per_s": v} for i, v in enumerate(values)]
    summary = {"files_per_s_median": sorted(values)[len(values) // 2] if values else None}
    if ci:
        summary["files_per_s_median"], lo, hi = ci
        summary["files_per_s_ci"] = {"low": lo, "high": hi}
    if floor:
        summary["fraction_of_floor"], lo, hi = floor
        summary["fraction_of_floor_ci"] = {"low": lo, "high": hi}
    run = {
        "phase": phase,
        "settings": {"analysis": "light", "batch_size": batch, "cache": "warm"},
        "corpus": {"files": 1000, "staged": True},
        "cluster": {"total_threads": 4, "startup_s": 0.5},
        "backend": {"used": "cpu"},
        "hardware": {"hostname": "vm-1", "usable_cpus": 2},
        "repeats": reps,
        "summary": summary,
        "started_at": t,
        "finished_at": t + 10,
    }
    d = results / "phases" / phase
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps(run))
    (d / "validation.json").write_text(json.dumps({"ok": True}))
    (d / "files.parquet").write_bytes(b"big per-file table: never kept")
    return d


def write_tables(results: Path, phases: list[str]) -> None:
    (results / "tables").mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{p}\t1\n" for p in phases)
    (results / "tables" / "throughput.tsv").write_text("phase\tx\n" + rows)


def two_runs(tmp_path: Path, a: dict, b: dict) -> tuple[Path, Path]:
    """Two kept runs; a and b map phase -> write_run keyword arguments."""
    results = tmp_path / "results"
    for t, runs in ((T0, a), (T0 + 3600, b)):
        for phase, kw in runs.items():
            write_run(results, phase, t=t, **kw)
        write_tables(results, list(runs))
        history.record(results, results / "history")
    return results, results / "history"


FAST = [1100.0, 1120.0, 1090.0, 1110.0, 1105.0, 1095.0]
BASE = [1000.0, 1010.0, 990.0, 1005.0, 995.0, 1002.0]
NOISY = [1000.0, 1200.0, 850.0, 1150.0, 900.0, 1050.0]


def test_history_keeps_small_files_atomically_and_once(tmp_path):
    results = tmp_path / "results"
    write_run(results, "base", BASE)
    write_tables(results, ["base"])
    root = results / "history"
    entry, new = history.record(results, root)
    assert new and entry.name.startswith("20251128T") and entry.name.endswith("-vm-1")
    assert (entry / "phases" / "base" / "run.json").read_bytes() == (
        results / "phases" / "base" / "run.json"
    ).read_bytes()
    assert not (entry / "phases" / "base" / "files.parquet").exists()
    assert [p.name for p in root.iterdir()] == [entry.name]  # no temporary folder left
    record = history.read_entry(entry)
    assert record["phases"] == ["base"] and record["host"] == "vm-1"
    # tables regenerated, same measurements: no second entry
    assert history.record(results, root) == (entry, False)
    write_run(results, "base", FAST, t=T0 + 60)
    second, new = history.record(results, root)
    assert new and history.entries(root) == [entry, second]
    assert history.resolve(second.name[:15], root) == second
    with pytest.raises(history.UserError, match="matches several"):
        history.resolve("2025", root)


def test_clear_gain_is_real_and_noise_is_not(tmp_path):
    _, root = two_runs(
        tmp_path,
        {"base": {"values": BASE}, "noisy": {"values": NOISY}},
        {"base": {"values": FAST}, "noisy": {"values": NOISY[::-1]}},
    )
    a, b = history.entries(root)
    result = compare.compare(compare.load_side(a), compare.load_side(b))
    by = {p["phase"]: p for p in result["phases"]}
    assert by["base"]["change"]["verdict"] == "faster"
    assert by["base"]["change"]["low"] > 1 and by["base"]["change"]["method"].startswith("boot")
    assert by["noisy"]["change"]["verdict"] == "within noise"
    assert by["noisy"]["change"]["low"] < 1 < by["noisy"]["change"]["high"]
    text = compare_text.terminal(result)
    assert "faster (real)" in text and "within noise" in text and "+10." in text


def test_without_repeats_the_medians_cis_decide(tmp_path):
    _, root = two_runs(
        tmp_path,
        {
            "x": {"values": [], "ci": (1000, 950, 1050)},
            "y": {"values": [], "ci": (1000, 900, 1100)},
        },
        {"x": {"values": [], "ci": (800, 760, 840)}, "y": {"values": [], "ci": (1050, 1000, 1110)}},
    )
    a, b = history.entries(root)
    by = {
        p["phase"]: p for p in compare.compare(compare.load_side(a), compare.load_side(b))["phases"]
    }
    assert by["x"]["change"]["verdict"] == "slower"
    assert by["x"]["change"]["method"] == "medians' CIs"
    assert by["y"]["change"]["verdict"] == "within noise"


def test_floor_fraction_and_settings_are_compared(tmp_path):
    _, root = two_runs(
        tmp_path,
        {"p": {"values": BASE, "floor": (0.40, 0.38, 0.42)}},
        {"p": {"values": BASE, "floor": (0.50, 0.47, 0.53), "batch": 5000}},
    )
    a, b = history.entries(root)
    result = compare.compare(compare.load_side(a), compare.load_side(b))
    p = result["phases"][0]
    assert p["floor"]["verdict"] == "closer to the floor"
    assert p["settings_differ"] == ["batch 1,000 → 5,000"]
    md = compare_text.markdown(result)
    assert "| p |" in md and "0.40× [0.38×–0.42×] → 0.50×" in md
    assert "p: settings differ: batch 1,000 → 5,000" in md


def test_cli_compares_the_last_two_and_can_fail_on_a_slowdown(tmp_path, capsys):
    _, root = two_runs(tmp_path, {"p": {"values": FAST}}, {"p": {"values": BASE}})
    assert main(["compare", "--history-dir", str(root), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    a, b = history.entries(root)
    assert (result["a"]["label"], result["b"]["label"]) == (a.name, b.name)
    # −9 %: beyond the CI but under the default 10 % threshold: not slower, no failure
    assert result["threshold_pct"] == 10
    assert result["phases"][0]["change"]["verdict"] == "below threshold"
    assert result["phases"][0]["change"]["high"] < 1
    assert main(["compare", "--history-dir", str(root), "--fail-if-slower"]) == 0
    assert "below threshold (< 10 %)" in capsys.readouterr().out
    args = ["compare", "--history-dir", str(root), "--threshold", "5"]
    assert main([*args, "--fail-if-slower"]) == 1
    assert "slower beyond the CI and the 5 % threshold: p" in capsys.readouterr().err
    # one run named: against the newest; a results folder works as a side too
    assert main(["compare", a.name, "--history-dir", str(root), "--markdown", "--threshold=5"]) == 0
    out = capsys.readouterr().out
    assert "slower (real)" in out and "at least 5 % (--threshold)" in out
    assert main(["compare", str(a), str(tmp_path / "results")]) == 0


def test_threshold_must_be_a_percentage(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--threshold", "ten", "--history-dir", str(tmp_path)])
    assert "a percentage" in capsys.readouterr().err


BIG = [v * 1.3 for v in BASE]  # +30 %, well beyond the threshold


def test_floor_moving_too_is_machine_drift_and_does_not_fail(tmp_path, capsys):
    """Same commit, the machine 30 % faster in B: files/s changes for real, the fraction
    of the floor does not (the floor moved too): drift, not faster/slower."""
    steady = {"floor": (0.40, 0.38, 0.42)}
    _, root = two_runs(
        tmp_path,
        {"up": {"values": BASE, **steady}, "down": {"values": BIG, **steady}},
        {"up": {"values": BIG, **steady}, "down": {"values": BASE, **steady}},
    )
    a, b = history.entries(root)
    result = compare.compare(compare.load_side(a), compare.load_side(b))
    by = {p["phase"]: p["change"] for p in result["phases"]}
    assert by["up"]["verdict"] == by["down"]["verdict"] == "machine drift"
    assert (by["up"]["raw_verdict"], by["down"]["raw_verdict"]) == ("faster", "slower")
    assert by["down"]["high"] < 1  # the CI still says B's files/s was lower
    text = compare_text.terminal(result)
    assert "machine drift (the floor moved too)" in text and "machine drift = " in text
    assert main(["compare", "--history-dir", str(root), "--fail-if-slower"]) == 0


def test_a_real_change_needs_the_floor_fraction_to_move_too(tmp_path):
    _, root = two_runs(
        tmp_path,
        {"p": {"values": BASE, "floor": (0.40, 0.38, 0.42)}, "q": {"values": BASE}},
        {"p": {"values": BIG, "floor": (0.52, 0.50, 0.54)}, "q": {"values": BIG}},
    )
    a, b = history.entries(root)
    result = compare.compare(compare.load_side(a), compare.load_side(b))
    by = {p["phase"]: p for p in result["phases"]}
    assert by["p"]["floor"]["verdict"] == "closer to the floor"
    assert by["p"]["change"]["verdict"] == "faster"  # filerate itself moved
    assert by["q"]["floor"] is None and by["q"]["change"]["verdict"] == "faster"  # no floor
    # a floor fraction that moved less than the threshold is no real move either
    small = compare.floor_change(
        {"value": 0.40, "low": 0.395, "high": 0.405}, {"value": 0.42, "low": 0.415, "high": 0.425}
    )
    assert small["verdict"] == "below threshold"
    assert compare.drift({"verdict": "slower"}, small)["verdict"] == "machine drift"
    assert compare.drift({"verdict": "below threshold"}, small)["verdict"] == "below threshold"


def test_compare_and_the_tables_use_the_same_repeats(tmp_path):
    """A 0 files/s repeat counts in run.json's median, the tables and compare alike."""
    values = [0.0, 1000.0, 1010.0, 990.0]
    d = write_run(tmp_path / "results", "p", values)
    run = json.loads((d / "run.json").read_text())
    assert compare.throughput(run)["values"] == values
    assert measured.timed_values(Phase("p", d, run)) == values


def test_cli_needs_two_runs(tmp_path, capsys):
    assert main(["compare", "--history-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compare needs two" in err[0]


def test_history_cli_writes_latest(tmp_path, capsys):
    results, root = two_runs(tmp_path, {"p": {"values": BASE}}, {"p": {"values": FAST}})
    out = tmp_path / "latest.json"
    assert main(["history", "--results", str(results), "--out", str(out)]) == 0
    latest = json.loads(out.read_text())
    a, b = history.entries(root)
    assert latest == {"run_id": b.name, "path": str(b), "new": False, "previous": a.name}


def test_report_section_compares_with_the_previous_kept_run(tmp_path):
    results, _ = two_runs(tmp_path, {"p": {"values": BASE}}, {"p": {"values": FAST}})
    run = json.loads((results / "phases" / "p" / "run.json").read_text())
    phases = [Phase("p", results / "phases" / "p", run)]
    html = section_history(phases)  # this run is kept already: compared with the one before
    assert "Since the last run" in html and "faster (real)" in html
    fresh = tmp_path / "fresh"
    write_run(fresh, "p", BASE)
    html = section_history([Phase("p", fresh / "phases" / "p", run)])
    assert "No earlier run" in html


def test_plan_and_report_share_the_oversubscription_fact(capsys):
    assert cfg.oversubscribed(44, 2, 2) and cfg.oversubscribed(2, 4, 2)
    assert not cfg.oversubscribed(2, 2, 2)
    assert (
        cfg.oversubscription_warning({"total_threads": 2, "processes": 2, "cpu_count": 2}) is None
    )
    root = Path(__file__).resolve().parents[1]
    assert main(["plan", "--config", str(root / "config" / "config.yaml"), "--cpu-count", "2"]) == 0
    err = capsys.readouterr().err
    assert "warning: phase baseline: 12 threads in 2 processes on 2 CPUs: oversubscribed" in err


def test_entries_sort_suffix_ten_after_nine(tmp_path, capsys):
    """A partial rerun keeps the first run's start time: -10 comes after -9 (finding 11)."""
    root = tmp_path / "history"
    base = "20261128T040312Z-vm"
    names = [base] + [f"{base}-{n}" for n in range(2, 12)]
    for i, name in enumerate(names):
        (root / name).mkdir(parents=True)
        recorded = f"2026-11-28T05:{i:02d}:00+00:00"
        (root / name / history.ENTRY).write_text(json.dumps({"recorded_at": recorded}))
    (root / "20261128T050000Z-vm").mkdir()  # a later start, recorded before the reruns
    (root / "20261128T050000Z-vm" / history.ENTRY).write_text(
        json.dumps({"recorded_at": "2026-11-28T05:00:00+00:00"})
    )
    known = [p.name for p in history.entries(root)]
    assert known == [*names, "20261128T050000Z-vm"]
    assert compare.pick([], root)[0].name == f"{base}-11"
