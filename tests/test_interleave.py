"""Interleaved comparisons: which phases share a group and a cluster, the round order,
the paired gain and its verdict, the workflow's wiring, and one small real group run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from filerate import config as cfg
from filerate.confidence import StoppingRule
from filerate.engine import interleave, rounds

ROOT = Path(__file__).resolve().parents[1]


def _phases(cold: bool = False, extra: dict | None = None) -> dict:
    conf = cfg.validate(
        {
            "corpora": {"a": {"files": 300, "seed": 5}},
            "phases": {
                "base": {
                    "corpus": "a",
                    "backend": "cpu",
                    "workers": 2,
                    "batch_size": 100,
                    "analysis": "light",
                    "staging": False,
                },
                "next": {
                    "corpus": "a",
                    "backend": "cpu",
                    "workers": 4,
                    "batch_size": 250,
                    "analysis": "minimal",
                    "staging": True,
                    **(extra or {}),
                },
            },
            "ablation": True,
            "ablation_cold": cold,
        },
        cpu_count=2,
    )
    return cfg.phases(conf, cpu_count=2)


def test_plan_groups_the_ablation_and_leaves_other_phases_alone():
    phases = _phases()
    plan = interleave.plan(phases, True)
    (members,) = plan["groups"].values()
    assert members[0] == "base" and "next" not in members
    assert set(members) == {p for p in phases if phases[p]["ablation"]} | {"base"}
    assert interleave.plan(phases, False) == {"groups": {}, "alone": {}}


def test_plan_keeps_a_warm_in_place_member_away_from_a_cold_in_place_one():
    plan = interleave.plan(_phases(cold=True), True)
    # the base reads corpus a in place, and its cold twins evict corpus a
    assert "base" in plan["alone"] and "evicts" in plan["alone"]["base"]
    assert "base" not in plan["groups"].get("ablation", [])


def test_clusters_share_by_processes_threads_and_split_cpu_from_gpu():
    phases = _phases()
    members = {n: phases[n] for n in interleave.plan(phases, True)["groups"]["ablation"]}
    layout = interleave.clusters(members, lambda s: "cpu")
    assert layout[0][0] == "base"
    workers = [n for n in members if n.startswith("ablate-workers")]
    assert any(workers == names for names in layout)  # 2 x 2 threads: a cluster of its own
    assert "ablate-batch-size-next" in layout[0] and "ablate-analysis-next" in layout[0]
    # on a GPU, GPU memory per worker sizes the worker: a cluster of its own
    gpu = {"base": phases["base"], "g": {**phases["base"], "gpu_memory_per_worker_gb": 1.0}}
    assert len(interleave.clusters(gpu, lambda s: "gpu")) == 2
    assert len(interleave.clusters(gpu, lambda s: "cpu")) == 1
    cpu_vs_gpu = interleave.clusters(gpu, lambda s: "gpu" if s is gpu["g"] else "cpu")
    assert len(cpu_vs_gpu) == 2


class FakeClock:
    now = 0.0

    def __call__(self):
        return self.now


def _series(name, values, rule, clock):
    it = iter(values)

    def measure(i):
        clock.now += 1.0
        return {"files_per_s": next(it)}

    return rounds.Series(name, measure, rule)


def test_group_rounds_interleave_and_stop_together():
    clock = FakeClock()
    rule = StoppingRule(min_repeats=2, max_repeats=5, ci_target_pct=50, max_phase_s=1e9)
    steady = _series("A", [100.0] * 10, rule, clock)
    noisy = _series("B", [100.0, 300.0, 50.0, 100.0, 100.0], rule, clock)
    order = interleave.run_group_rounds([steady, noisy], 2, clock)
    assert [n for _, n in order[:4]] == ["A", "B", "A", "B"]
    # A could stop after 2 rounds, but runs as long as B so every round is a pair
    assert len(steady.records) == len(noisy.records) == 5
    assert steady.stop_reason == "max_repeats" and noisy.stop_reason == "max_repeats"


def test_group_rounds_stop_everything_on_a_timeout():
    clock = FakeClock()
    rule = StoppingRule(2, 5, 5.0, 1e9)
    a = rounds.Series("A", lambda i: {"files_per_s": 1.0, "timed_out": i == 1}, rule)
    b = _series("B", [1.0] * 5, rule, clock)
    order = interleave.run_group_rounds([a, b], 2, clock)
    assert order == [(0, "A"), (0, "B"), (1, "A")]
    assert a.stop_reason == b.stop_reason == "timeout"


def test_paired_gain_is_the_median_ratio_per_round():
    base = [100.0, 50.0, 200.0, 100.0, 80.0, 120.0, 90.0]
    variant = [b * r for b, r in zip(base, [1.1, 1.2, 1.15, 1.1, 1.3, 1.05, 1.12], strict=True)]
    g = interleave.paired_gain(variant, base)
    # drift of the base (50 .. 200) cancels in the pairs: the ratios are 1.05 .. 1.3
    assert g.ratio == pytest.approx(1.12) and g.n == 7
    assert g.low == pytest.approx(1.05) and g.high == pytest.approx(1.3)
    assert interleave.paired_gain([], base) is None
    u = interleave.unpaired_gain(variant, base)
    assert u.method.startswith("ratio of medians") and u.low <= u.ratio <= u.high


def test_pair_record_names_the_mode():
    vals = {"v": [2.0] * 6, "b": [1.0] * 6}
    rec = interleave.pair_record("v", "b", interleave.ONE_CLUSTER, vals)
    assert rec["mode"] == "one cluster" and rec["gain"]["ratio"] == 2.0
    assert rec["gain"]["method"] == "paired per round"
    blocks = interleave.pair_record("v", "b", interleave.BLOCKS, vals)
    assert blocks["gain"]["method"] == "ratio of medians, bootstrap"
    cluster_of = {"a": 0, "b": 0, "c": 1}
    assert interleave.pair_mode("a", "b", cluster_of, False) == interleave.ONE_CLUSTER
    assert interleave.pair_mode("a", "c", cluster_of, True) == interleave.SIDE_BY_SIDE
    assert interleave.pair_mode("a", "c", cluster_of, False) == interleave.BLOCKS
    assert interleave.fits_side_by_side(2, 100, 1000) and not interleave.fits_side_by_side(
        20, 100, 1000
    )


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(1.6, 1.9, "confirmed"), (1.05, 1.2, "refuted"), (1.3, 1.7, "inconclusive")],
)
def test_predictions_use_the_paired_gain(tmp_path, low, high, verdict):
    from filerate.reports.bottlenecks import predictions
    from filerate.reports.load import load_phases
    from fixtures_runs import _ablation, build_phase

    base = build_phase(tmp_path, "baseline", target=1000)
    var = build_phase(
        tmp_path,
        "ablate-batch-x",
        batch_size=5000,
        target=1000,
        ablation=_ablation("batch_size", 1000, 5000),
    )
    run = json.loads((var / "run.json").read_text())
    gain = {
        "ratio": (low + high) / 2,
        "low": low,
        "high": high,
        "n": 7,
        "level": 0.95,
        "attained": 0.98,
        "method": "paired per round",
    }
    run["interleave"] = {
        "group": "ablation",
        "pair": {"base": "baseline", "mode": "one cluster", "gain": gain},
    }
    (var / "run.json").write_text(json.dumps(run))
    (test,) = predictions.predictions(load_phases([base, var]), {"batch_size": [50, 100]})["tests"]
    assert test["verdict"] == verdict and test["pairing"] == "one cluster"
    assert test["measured_ci_pct"] == pytest.approx([(low - 1) * 100, (high - 1) * 100])
    assert "one cluster" in predictions.gain_text(test["gain"])


def test_workflow_dry_run_runs_the_ablation_as_one_group(tmp_path):
    from test_workflow import make_workdir, snakemake

    work, _ = make_workdir(tmp_path, ablation=True)
    conf = work / "config" / "config.yaml"
    conf.write_text(conf.read_text() + "interleave: true\nablation_cold: false\n")
    out = snakemake(work, "-n").stdout
    assert "rule interleave_ablation:" in out
    assert "results/interleave/ablation.json" in out
    assert "results/phases/ablate-batch-size-second/run.json" in out
    assert "validation.json" in out


def _member(corpus: Path, out: Path, name: str, workers: int, batch: int, ablation=None):
    settings = cfg.validate(
        {
            "corpora": {"c": {"files": 600, "seed": 11}},
            "phases": {
                name: {
                    "corpus": "c",
                    "backend": "cpu",
                    "workers": workers,
                    "processes": 1,
                    "batch_size": batch,
                    "analysis": "light",
                    "staging": False,
                    "repeats": 2,
                    "min_repeat_s": 0,
                    "warmup": 0,
                    "timeout_s": 120,
                },
            },
        },
        cpu_count=2,
    )
    s = cfg.phases(settings, cpu_count=2)[name]
    s["ablation"] = ablation
    return {
        "settings": s,
        "manifest": str(corpus / "manifest.parquet"),
        "data_dir": str(corpus / "files"),
        "staging_json": None,
        "out": str(out / name),
    }


@pytest.mark.slow
def test_a_group_runs_interleaved_and_writes_every_member(small_corpus, tmp_path, monkeypatch):
    """Memory made short so the other cluster runs in a block of its own (the side-by-side
    path ran in the ablation of docs/PERFORMANCE.md): every member's outputs, validated,
    the round order, the modes in the table."""
    from filerate import validate
    from filerate.engine import group

    monkeypatch.setattr(interleave, "MEMORY_SHARE", 0.0)

    ab = {"base": "b", "knob": "batch_size", "from": 100, "to": 300, "value_of": None}
    members = [
        _member(small_corpus, tmp_path, "b", 2, 100),
        _member(small_corpus, tmp_path, "v", 2, 300, ab),
        _member(small_corpus, tmp_path, "w", 3, 100, {**ab, "knob": "workers"}),
    ]
    record = group.run_group("g", members)
    assert record["status"] == "ok" and record["clusters"] == [["b", "v"], ["w"]]
    modes = {p["variant"]: p["mode"] for p in record["pairs"]}
    assert modes["v"] == interleave.ONE_CLUSTER
    assert modes["w"] == interleave.BLOCKS and not record["side_by_side"]
    for name in ("b", "v", "w"):
        run = json.loads((tmp_path / name / "run.json").read_text())
        assert run["summary"]["repeats"] == 2
        files = pd.read_parquet(tmp_path / name / "files.parquet")
        assert len(files) == 600 and set(files["status"]) <= {"ok", "error"}
        manifest = pd.read_parquet(small_corpus / "manifest.parquet")
        assert validate.validate(manifest, files, run)["ok"], name
    v = json.loads((tmp_path / "v" / "run.json").read_text())
    assert v["interleave"]["pair"]["gain"]["n"] == 2
    assert v["interleave"]["order"] == [
        f"{r}:{n}" for r in (0, 1) for n in ("b", "b floor", "v", "v floor")
    ]
    w = json.loads((tmp_path / "w" / "run.json").read_text())
    # its block: the two rounds its rule asks for, on its own cluster
    assert w["interleave"]["order"] == ["0:w", "0:w floor", "1:w", "1:w floor"]
    assert [r["repeat"] for r in w["repeats"] if not r["warmup"]] == [0, 1]
    group.write_table(record, tmp_path / "t.tsv", tmp_path / "t.md")
    table = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    assert list(table["variant"]) == ["v", "w"]
    assert "one cluster" in (tmp_path / "t.md").read_text()


@pytest.mark.gpu
def test_cpu_and_gpu_members_get_a_cluster_each(small_corpus, tmp_path):
    from filerate.engine import gpu, group

    info = gpu.probe()
    if not info.get("usable"):
        pytest.skip(f"no usable GPU: {info.get('reason')}")

    cpu = _member(small_corpus, tmp_path, "cpu", 2, 100)
    gpu = _member(small_corpus, tmp_path, "gpu", 2, 100)
    gpu["settings"]["backend"] = "gpu"
    gpu["settings"]["ablation"] = {"base": "cpu", "knob": "backend"}
    record = group.run_group("g", [cpu, gpu])
    assert record["clusters"] == [["cpu"], ["gpu"]]


def test_group_rounds_in_blocks_stop_at_the_cap_and_carry_the_round_number():
    clock = FakeClock()
    rule = StoppingRule(min_repeats=5, max_repeats=5, ci_target_pct=50, max_phase_s=1e9)
    a = _series("A", [1.0] * 10, rule, clock)
    a.records = [{"files_per_s": 1.0}] * 3  # an earlier block's
    order = interleave.run_group_rounds([a], 1, clock, max_rounds=1, first_round=3)
    assert order == [(3, "A")] and a.stop_reason is None and len(a.records) == 4
    order = interleave.run_group_rounds([a], 1, clock, max_rounds=3, first_round=4)
    assert order == [(4, "A")] and a.stop_reason == "max_repeats"


def test_unpaired_gain_is_none_when_the_base_median_is_0():
    """Blocks mode: a base with some repeats above 0 but a median of 0 has no ratio (the
    bootstrap would raise at the end of the group's run)."""
    assert interleave.unpaired_gain([1.0, 2.0, 3.0], [0.0, 0.0, 5.0]) is None
    assert interleave.unpaired_gain([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) is None
    assert interleave.unpaired_gain([2.0, 2.0, 2.0], [1.0, 1.0, 0.0]).ratio == 2.0


def _fake_member(name, staging=None, processes=1, backend=None):
    from types import SimpleNamespace

    from filerate.engine import group

    settings = {"name": name, "resolved": {"processes": processes}}
    job = SimpleNamespace(
        settings=settings,
        staging=staging,
        backend=backend or {"device": "cpu"},
        manifest=None,
        data_dir=None,
        out=name,
    )
    return group.Member(job)


def test_the_ramdisk_sampled_is_a_staged_members_even_when_the_base_is_not():
    from filerate.engine import group

    staged = {"staged": True, "ramdisk_root": "/dev/shm/x"}
    members = {n: _fake_member(n) for n in ("base", "v")}
    assert group._staging(members) is None
    members["v"] = _fake_member("v", staged)
    assert group._staging(members) == staged


def test_memory_estimate_counts_each_other_clusters_processes():
    """Each other cluster's own worker processes (one per GPU on the GPU), not the first
    cluster's count once per cluster."""
    import os
    from types import SimpleNamespace

    from filerate.engine import group

    gpu = {"device": "gpu", "gpu_probe": {"devices": [{}, {}]}}
    members = {
        "a": _fake_member("a", processes=1),
        "b": _fake_member("b", processes=4),
        "c": _fake_member("c", processes=4),
        "g": _fake_member("g", processes=8, backend=gpu),
    }
    members["a"].info = SimpleNamespace(record={"workers": [{"pid": os.getpid()}]})
    memory = group._memory_estimate(members, [["a"], ["b", "c"], ["g"]])
    assert memory["extra_processes"] == 4 + 2  # b and c share one cluster
    assert memory["rss_per_worker_process"] > 0


def test_blocks_search_duplicates_once_per_member(monkeypatch):
    """In blocks the rounds run again every turn; the duplicate search runs once."""
    from contextlib import ExitStack
    from types import SimpleNamespace

    from filerate.engine import group, measurement, process

    rule = StoppingRule(min_repeats=5, max_repeats=5, ci_target_pct=50, max_phase_s=1e9)
    searched: list[str] = []

    def start(stack: ExitStack, members, names):
        for n in names:
            members[n].info = SimpleNamespace(client=None)

    def timed_series(ctx, done, settings, floor_threads, ramdisk, stack):
        return [rounds.Series("x", lambda i: {"files_per_s": 1.0}, rule)], None

    monkeypatch.setattr(group, "_start", start)
    monkeypatch.setattr(group, "_memory_estimate", lambda members, layout: {"fits": False})
    monkeypatch.setattr(measurement, "timed_series", timed_series)
    monkeypatch.setattr(process, "_find_duplicates", lambda *a: searched.append(a[-1]))
    members = {n: _fake_member(n) for n in ("a", "b")}
    assert group._measure(members, [["a"], ["b"]]) == (False, {"fits": False})
    assert all(len(m.series[0].records) == 5 for m in members.values())  # two turns
    assert sorted(searched) == ["a", "b"]
