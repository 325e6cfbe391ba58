"""filerate bottlenecks: time breakdown, verdicts and the plan's predictions tested."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from filerate import config
from filerate.reports import bottlenecks as bn
from filerate.reports.bottlenecks import accounting, predictions, recommend, rules, utilisation
from filerate.reports.load import load_phase, load_phases
from fixtures_runs import (
    ablation_set,
    build_phase,
    io_bound,
    oversubscribed,
    phase_args,
    run_cli,
    scheduler_bound,
    too_few_batches,
)

GAINS = (
    '{"workers":[150,200],"batch_size":[100,150],'
    '"gpu_memory_per_worker_gb":[50,100],"analysis":[25,50]}'
)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("cases")
    paths = [too_few_batches(root), io_bound(root), oversubscribed(root), scheduler_bound(root)]
    phases = load_phases(paths)
    report = bn.analyse(phases, bn.parse_gains(GAINS))
    return paths, {p["phase"]: p for p in report["phases"]}, report


# ---- arithmetic -----------------------------------------------------------------------


def tasks(*spans):
    rows = []
    for a, b in spans:
        d = b - a
        rows.append(
            {
                "start": a,
                "stop": b,
                "read_s": d * 0.5,
                "hash_s": d * 0.25,
                "h2d_s": 0.0,
                "analyse_s": d * 0.1,
                "d2h_s": 0.0,
                "pack_s": 0.0,
            }
        )
    return pd.DataFrame(rows)


def test_repeat_breakdown_by_hand():
    # two 0.4 s tasks on 2 slots in a 1.0 s repeat: the ideal makespan is 0.4 s
    rb = accounting.repeat_breakdown(tasks((0.1, 0.5), (0.1, 0.5)), wall=1.0, slots=2)
    ss = rb["slot_seconds"]
    assert rb["busy_slot_s"] == pytest.approx(0.8)
    assert ss["read"] == pytest.approx(0.4) and ss["hash"] == pytest.approx(0.2)
    assert ss["task_overhead"] == pytest.approx(0.8 * 0.15)
    assert ss["scheduling"] == pytest.approx(2 * (1.0 - 0.4))
    assert ss["idle"] == pytest.approx(0.0)
    assert sum(rb["seconds"].values()) == pytest.approx(1.0)
    # one 0.5 s task on 4 slots in 0.6 s: 1.5 slot-s idle, 0.4 slot-s scheduling
    rb = accounting.repeat_breakdown(tasks((0.05, 0.55)), wall=0.6, slots=4)
    assert rb["slot_seconds"]["idle"] == pytest.approx(1.5)
    assert rb["slot_seconds"]["scheduling"] == pytest.approx(0.4)
    assert sum(rb["slot_seconds"].values()) == pytest.approx(4 * 0.6)


def test_ideal_makespan():
    assert accounting.ideal_makespan([1, 1, 1], 4) == 1
    assert accounting.ideal_makespan([1, 1, 1], 2) == 2
    assert accounting.ideal_makespan([], 2) == 0


def test_shares_sum_to_100(cases):
    _, by, _ = cases
    for ph in by.values():
        assert sum(r["share_pct"] for r in ph["breakdown"]) == pytest.approx(100.0)
        assert sum(r["seconds"] for r in ph["breakdown"]) == pytest.approx(ph["end_to_end_s"])
        assert [r["component"] for r in ph["breakdown"]] == list(accounting.BREAKDOWN)
        for rep in ph["repeats"]:
            assert sum(rep["seconds"].values()) == pytest.approx(rep["wall_s"])


def test_breakdown_components(cases):
    paths, by, _ = cases
    io = by["io"]
    secs = {r["component"]: r["seconds"] for r in io["breakdown"]}
    assert secs["staging"] == pytest.approx(0.2) and secs["startup"] == pytest.approx(0.5)
    # read is 85 % of every task and the 4 slots are always busy
    assert io["busy_share_pct"]["read"] == pytest.approx(85.0)
    batches = load_phase(paths[1]).timed_batches()
    assert secs["read"] == pytest.approx(batches["read_s"].sum() / 3 / 4)


# ---- verdicts -----------------------------------------------------------------------


def test_io_bound(cases):
    ph = cases[1]["io"]
    assert ph["limit"] == "storage I/O"
    assert any("read 85 %" in f["evidence"] for f in ph["findings"])


def test_oversubscribed(cases):
    ph = cases[1]["oversub"]
    assert ph["limit"] == "CPU (oversubscribed)"
    ev = next(f["evidence"] for f in ph["findings"] if f["rule"] == "oversubscribed")
    assert "44 threads" in ev and "2 CPUs" in ev and "context switches/s" in ev
    assert ph["utilisation"]["cpu_pct_mean"] == pytest.approx(99.0, abs=3)
    assert ph["utilisation"]["ctx_switches_per_s"] == pytest.approx(60_000, rel=0.05)
    assert ph["recommendation"]["settings"] == {"workers": "cpu_count"}


def test_scheduler_bound(cases):
    ph = cases[1]["sched"]
    assert ph["limit"] == "Dask scheduler overhead"
    assert ph["tasks"]["duration_s_median"] == pytest.approx(0.002, rel=1e-3)
    assert ph["tasks"]["dispatch_overhead_s_per_task"] == pytest.approx(0.008, rel=0.01)
    assert ph["wall_share_pct"]["scheduling"] == pytest.approx(80, abs=1)
    assert ph["recommendation"]["settings"]["batch_size"] > 2


def test_too_few_batches(cases):
    ph = cases[1]["fewbatches"]
    assert ph["limit"] == "parallelism (batches too large)"
    assert ph["wall_share_pct"]["idle"] == pytest.approx(100 * (1 - 4 / 24), abs=1)
    ev = next(f["evidence"] for f in ph["findings"] if f["rule"] == "parallelism")
    assert "4 tasks per repeat for 24 thread slots" in ev
    # 20,000 files, 8 usable slots: 2 tasks per CPU
    assert ph["recommendation"]["settings"]["batch_size"] == 1250


def test_staging_dominates(tmp_path):
    path = build_phase(tmp_path, "slowstage", staging_s=30.0, cpu_pct=25.0, split={"read_s": 0.9})
    report = bn.analyse(load_phases([path]))
    ph = report["phases"][0]
    assert ph["limit"] == "staging (RAM-disk copy)"
    assert ph["processing_limit"] == "storage I/O"
    assert ph["recommendation"]["settings"] == {"staging": False}


def test_gpu_rules(tmp_path):
    idle = build_phase(tmp_path, "gpuidle", backend="gpu", gpus=1, gpu_util=10.0, cpu_pct=40.0)
    xfer = build_phase(
        tmp_path,
        "gpuxfer",
        backend="gpu",
        gpus=1,
        gpu_util=50.0,
        cpu_pct=40.0,
        split={"read_s": 0.1, "h2d_s": 0.4, "analyse_s": 0.1, "d2h_s": 0.2},
    )
    by = {p["phase"]: p for p in bn.analyse(load_phases([idle, xfer]))["phases"]}
    assert any(f["rule"] == "gpu_idle" for f in by["gpuidle"]["findings"])
    assert by["gpuidle"]["utilisation"]["gpus"][0]["util_pct_mean"] == pytest.approx(10.0, abs=1)
    assert by["gpuidle"]["utilisation"]["gpus"][0]["temp_c_peak"] == pytest.approx(65.0, abs=1)
    assert by["gpuxfer"]["processing_limit"] == "host↔device transfer"


def test_recommendations_are_chosen_by_rule_id(cases):
    paths, by, _ = cases
    phase = load_phase(paths[0])
    bd, util = accounting.phase_breakdown(phase), utilisation.utilisation(phase)

    def advice(rule):
        return recommend.recommend(phase, rule, bd, util)

    assert advice("staging")["settings"] == {"staging": False}
    assert advice("oversubscribed")["settings"] == {"workers": "cpu_count"}
    assert advice(None)["change"].startswith("profile a task")
    assert advice("no_tasks") == advice(None)
    # every rule that can name a limit has advice of its own
    for rule in ("staging", "startup", *rules.PROCESSING_ORDER):
        if rule != "no_tasks":
            assert advice(rule) != advice(None), rule
    # analyse recommends for the rule that named the limit
    fewbatches = by["fewbatches"]
    assert fewbatches["findings"][0]["rule"] == "parallelism"
    assert fewbatches["recommendation"] == advice("parallelism")


def test_plan_gains_are_the_schema_default():
    default = config.schema()["properties"]["predicted_gains_pct"]["default"]
    assert bn.parse_gains(None) == default
    assert set(default) <= set(config.ABLATION_KNOBS)
    # config/config.yaml states the plan explicitly: the same numbers
    plan = config.load(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    assert plan["predicted_gains_pct"] == default


# ---- predictions ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ablation_report(tmp_path_factory):
    paths = ablation_set(tmp_path_factory.mktemp("ablation"))
    return paths, bn.analyse(load_phases(paths), bn.parse_gains(GAINS))


def test_prediction_verdicts(ablation_report):
    _, report = ablation_report
    assert report["predictions"]["mode"] == "ablation"
    tests = {t["knob"]: t for t in report["predictions"]["tests"]}
    w = tests["workers"]
    assert w["verdict"] == "refuted"
    assert w["description"] == "workers 12 → 44"
    assert w["predicted_pct"] == [150, 200]
    assert w["measured_pct"] == pytest.approx((0.504 / 0.804 - 1) * 100, abs=0.5)
    assert w["text"].startswith("workers 12 → 44: predicted +150–200 %, measured −37 %")
    assert tests["batch_size"]["verdict"] == "confirmed"
    assert tests["gpu_memory_per_worker_gb"]["verdict"] == "not testable here"
    assert "without a GPU" in tests["gpu_memory_per_worker_gb"]["reason"]
    assert tests["analysis"]["verdict"] == "inconclusive"
    assert tests["staging"]["verdict"] == "no prediction"


def test_ramdisk_no_faster(ablation_report):
    _, report = ablation_report
    comps = report["ramdisk_comparisons"]
    assert len(comps) == 1
    assert comps[0]["staged"] == "baseline" and comps[0]["in_place"] == "ablate-staging-turbo"
    assert comps[0]["verdict"] == "RAM disk no faster than in place"
    base = next(p for p in report["phases"] if p["phase"] == "baseline")
    assert any(f["rule"] == "ramdisk_no_faster" for f in base["findings"])


def test_consecutive_phases(cases):
    _, _, report = cases
    pred = report["predictions"]
    assert pred["mode"] == "consecutive"
    assert len(pred["tests"]) == 3
    for t in pred["tests"]:
        assert t["verdict"] == "not testable here"
    assert "2 knobs changed at once" in pred["tests"][1]["reason"]
    # the plan's direction: fewer workers cannot test "more workers"
    assert predictions.plan_direction("workers", 12, 44) is True
    assert predictions.plan_direction("workers", 44, 12) is False
    assert predictions.plan_direction("analysis", "light", "minimal") is True


def test_single_knob_consecutive(tmp_path):
    a = build_phase(tmp_path, "a", batch_size=1000, task_s=0.5)
    b = build_phase(tmp_path, "b", batch_size=5000, task_s=0.225)
    t = bn.analyse(load_phases([a, b]))["predictions"]["tests"][0]
    assert t["knob"] == "batch_size" and t["verdict"] == "confirmed"


def test_parse_gains():
    assert bn.parse_gains('{"workers": [200, 150]}') == {"workers": [150.0, 200.0]}
    for bad in ("not json", "[1, 2]", '{"workers": [1]}', '{"workers": ["a", "b"]}'):
        with pytest.raises(Exception, match="predicted-gains"):
            bn.parse_gains(bad)


# ---- CLI ------------------------------------------------------------------------------


def test_cli(cases, tmp_path, capsys):
    paths, by, _ = cases
    md, js = tmp_path / "r" / "bottlenecks.md", tmp_path / "r" / "bottlenecks.json"
    rc = run_cli(
        [
            "bottlenecks",
            *phase_args(paths),
            "--predicted-gains",
            GAINS,
            "--md",
            str(md),
            "--json",
            str(js),
        ]
    )
    assert rc == 0
    data = json.loads(js.read_text())
    assert [p["phase"] for p in data["phases"]] == list(by)
    assert [p["limit"] for p in data["phases"]] == [p["limit"] for p in by.values()]
    text = md.read_text()
    for name, ph in by.items():
        # headed by what limits files/s; a set-up cost is said apart, never instead
        assert f"## {name}: files/s limited by {ph['processing_limit']}" in text
    assert "Definitions and rules: docs/BOTTLENECKS.md" in text
    assert "The plan's predictions, tested" in text
    rc = run_cli(
        [
            "bottlenecks",
            *phase_args(paths),
            "--predicted-gains",
            "{oops",
            "--md",
            str(tmp_path / "x.md"),
            "--json",
            str(tmp_path / "x.json"),
        ]
    )
    assert rc == 2
    assert "--predicted-gains" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_cli_missing_batches(tmp_path, capsys):
    path = build_phase(tmp_path, "p")
    (path / "batches.parquet").unlink()
    rc = run_cli(
        [
            "bottlenecks",
            "--phase-dir",
            str(path),
            "--md",
            str(tmp_path / "x.md"),
            "--json",
            str(tmp_path / "x.json"),
        ]
    )
    assert rc == 2
    assert "batches.parquet is missing" in capsys.readouterr().err


def test_extra_components_and_empty_resources(tmp_path):
    # an engine that also records setup_s, and a resources.parquet without samples
    path = build_phase(tmp_path, "extra", split={"setup_s": 0.2, "read_s": 0.5, "hash_s": 0.1})
    pd.DataFrame().to_parquet(path / "resources.parquet")
    ph = bn.analyse(load_phases([path]))["phases"][0]
    rows = {r["component"]: r for r in ph["breakdown"]}
    assert rows["setup"]["label"] == "task setup"
    assert ph["busy_share_pct"]["setup"] == pytest.approx(20.0)
    assert ph["busy_share_pct"]["task_overhead"] == pytest.approx(20.0)
    assert sum(r["share_pct"] for r in ph["breakdown"]) == pytest.approx(100.0)
    assert ph["utilisation"]["cpu_pct_mean"] is None
    assert ph["warnings"] and "no samples" in ph["warnings"][0]


def test_sample_weights():
    import numpy as np

    w = utilisation.sample_weights(np.array([0.0, 0.2, 0.4, 0.6]), [(0.1, 0.3)])
    assert w == pytest.approx([0.0, 0.5, 0.5, 0.0])
    # a repeat shorter than the sampling period still gets its sample
    w = utilisation.sample_weights(np.array([0.0, 0.2, 0.4]), [(0.25, 0.3)])
    assert w == pytest.approx([0.0, 0.0, 0.25])


def test_timeout_without_timed_repeats(tmp_path):
    # a phase that timed out during its warm-up: no timed repeat, files in error
    path = build_phase(tmp_path, "late", files_error=10, status="timeout")
    run = json.loads((path / "run.json").read_text())
    run["repeats"] = [r for r in run["repeats"] if r["warmup"]]
    (path / "run.json").write_text(json.dumps(run))
    out = tmp_path / "out"
    args = ["--phase-dir", str(path)]
    assert run_cli(["tables", *args, "--tsv", str(out / "t.tsv"), "--md", str(out / "t.md")]) == 0
    assert (
        run_cli(["bottlenecks", *args, "--md", str(out / "b.md"), "--json", str(out / "b.json")])
        == 0
    )
    ph = json.loads((out / "b.json").read_text())["phases"][0]
    rules = {f["rule"] for f in ph["findings"]}
    assert {"no_tasks", "errors", "status"} <= rules
    assert sum(r["share_pct"] for r in ph["breakdown"]) == pytest.approx(100.0)
    assert (
        run_cli(
            [
                "report",
                *args,
                "--tables",
                str(out / "t.tsv"),
                "--bottlenecks",
                str(out / "b.json"),
                "--plots-dir",
                str(out / "p"),
                "--out",
                str(out / "i.html"),
            ]
        )
        == 0
    )
