"""Tables and the bottleneck report quote the median with its CI, the floor, other CPU use
and latency percentiles for runs that recorded them (synthetic phase directories, CI keys
added); prediction verdicts need the CI to exclude the other side."""

from __future__ import annotations

import json

import pytest

from filerate.confidence import median_ci
from filerate.reports import bottlenecks, tables
from filerate.reports.bottlenecks import predictions
from filerate.reports.load import load_phases
from fixtures_runs import build_phase


def _add_ci(path, target_pct: float, floor_fps: float):
    run_path = path / "run.json"
    run = json.loads(run_path.read_text())
    fps = [r["files_per_s"] for r in run["repeats"] if not r["warmup"]]
    ci = median_ci(fps)
    run["summary"].update(
        {
            "files_per_s_ci": ci.as_dict(),
            "ci_target_pct": target_pct,
            "ci_target_reached": ci.reaches(target_pct),
            "stop_reason": "ci_target" if ci.reaches(target_pct) else "max_repeats",
            "floor_files_per_s_median": floor_fps,
            "fraction_of_floor": ci.median / floor_fps,
            "fraction_of_floor_ci": {"low": 0.1, "high": 0.9},
            "interference": {"others_cpu_pct": 42.0, "steal_pct": 0.5, "samples": 9},
        }
    )
    run["latency"] = {
        "open": {"count": 10, "p50_us": 2.0, "p90_us": 3.0, "p99_us": 9.0, "max_us": 50.0}
    }
    run_path.write_text(json.dumps(run))
    return path


@pytest.fixture(scope="module")
def phases(tmp_path_factory):
    root = tmp_path_factory.mktemp("ci-phases")
    # 7 repeats, nearly equal: the CI is narrow and reaches 5 %
    steady = build_phase(root, "steady", repeats=7, repeat_scale=[1, 1.01, 0.99, 1, 1, 1.01, 1])
    noisy = build_phase(
        root, "noisy", repeats=7, repeat_scale=[1, 1.5, 0.6, 1.2, 0.8, 1.4, 0.7], target=1000
    )
    _add_ci(steady, 5.0, 200_000.0)
    _add_ci(noisy, 5.0, 150_000.0)
    return load_phases([steady, noisy])


def test_rows_carry_the_ci_and_the_rule_decides_stability(phases):
    frame = tables.build_table(phases)
    steady, noisy = frame.to_dict("records")
    assert steady["stability"] == "stable" and noisy["stability"] == "unstable"
    assert steady["files_per_s_ci_low"] <= steady["files_per_s_median"]
    assert steady["files_per_s_median"] <= steady["files_per_s_ci_high"]
    assert steady["ci_confidence_pct"] == pytest.approx(98.4375)  # n = 7: ranks 1 and 7
    assert steady["others_cpu_pct"] == 42.0 and steady["open_p99_us"] == 9.0
    assert noisy["speedup_ci_low"] <= noisy["speedup_vs_baseline"] <= noisy["speedup_ci_high"]
    assert "_values" not in frame.columns


def test_markdown_quotes_median_with_ci_floor_cpu_and_latency(phases):
    frame = tables.build_table(phases)
    md = tables.to_markdown(frame, 10, phases)
    noisy = next(line for line in md.splitlines() if line.startswith("| noisy |"))
    rec = frame.set_index("phase").loc["noisy"]
    ci = f"[{rec['files_per_s_ci_low']:,.0f}–{rec['files_per_s_ci_high']:,.0f}]"
    assert f"{rec['files_per_s_median']:,.0f} {ci} (unstable)" in noisy
    assert "of 150,000" in noisy  # the floor
    assert "42 % others" in md
    assert "## Latency per operation" in md and "| steady | open | 10 |" in md
    tsv = tables.to_tsv(frame)
    assert "files_per_s_ci_low" in tsv.splitlines()[0]


def test_bottleneck_report_says_how_sure_and_what_disturbed(phases):
    report = bottlenecks.analyse(phases)
    steady, noisy = report["phases"]
    assert steady["measurement"]["stable"] and not noisy["measurement"]["stable"]
    md = bottlenecks.to_markdown(report)
    assert "**Unstable.** Measured:" in md
    assert "other processes used 42 % of the CPU and 0.5 % was stolen" in md
    assert "open 2.0/9.0 µs" in md
    # the consecutive comparison carries the CI of the change
    (test,) = report["predictions"]["tests"]
    assert test["measured_ci_pct"] is not None
    assert test["measured_ci_pct"][0] <= test["measured_pct"] <= test["measured_ci_pct"][1]


@pytest.mark.parametrize(
    ("ci", "verdict"),
    [
        ([5, 20], "refuted"),  # wholly below +50..100 %
        ([120, 150], "refuted"),
        ([60, 90], "confirmed"),
        ([30, 70], "inconclusive"),  # straddles the low end: no verdict
    ],
)
def test_prediction_verdict_from_the_ci(ci, verdict):
    assert predictions._within(75.0, None, [50, 100], ci)[0] == verdict
