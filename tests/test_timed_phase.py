"""A phase with time-based repeats chosen by the CI rule, the floor interleaved, latency
percentiles and the interference record; and a short soak. No timed assertions."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from filerate import config as cfg
from filerate import corpus, validate
from filerate.engine import latency, measurement, process

N = 400


def _settings(**overrides):
    phase = {
        "corpus": "c",
        "backend": "cpu",
        "workers": 2,
        "batch_size": 100,
        "staging": False,
        "warmup": 1,
        "min_repeat_s": 0.1,
        "min_repeats": 3,
        "max_repeats": 4,
        "ci_target_pct": 0.001,  # never reached: runs to max_repeats
        "max_phase_s": 600,
        **overrides,
    }
    conf = cfg.validate({"corpora": {"c": {"files": N}}, "phases": {"p": phase}}, cpu_count=2)
    return cfg.phases(conf, cpu_count=2)["p"]


@pytest.fixture(scope="module")
def timed_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("timed-corpus")
    corpus.generate("c", {"files": N, "seed": 9, "files_per_dir": 100}, out, processes=1)
    return out


def _run(timed_corpus, out, settings):
    manifest = str(timed_corpus / "manifest.parquet")
    process.run_phase(settings, manifest, str(timed_corpus / "files"), None, out)
    run = json.loads((out / "run.json").read_text())
    files = pd.read_parquet(out / "files.parquet")
    return run, validate.validate(pd.read_parquet(manifest), files, run)


def test_modes_and_rules_from_settings():
    assert measurement.repeat_mode(_settings()) == "ci"
    assert measurement.repeat_mode(_settings(repeats=2)) == "fixed"
    assert measurement.repeat_mode(_settings(duration_s=5)) == "soak"
    rule, min_s = measurement.stopping_rule(_settings(repeats=2))
    assert (rule.min_repeats, rule.max_repeats, min_s) == (2, 2, 0.1)
    rule, min_s = measurement.stopping_rule(_settings(duration_s=5, soak_interval_s=0.5))
    assert rule.max_phase_s == 5 and min_s == 0.5
    assert measurement.floor_plan(_settings(floor=False), {"used": "cpu"}, {})[0] is None
    assert (
        measurement.floor_plan(_settings(), {"used": "external"}, {"total_threads": 4})[0] is None
    )
    assert measurement.floor_plan(_settings(), {"used": "cpu"}, {"total_threads": 4})[0] == 4


@pytest.mark.slow
def test_ci_mode_phase_records_ci_floor_latency_and_interference(timed_corpus, tmp_path):
    run, val = _run(timed_corpus, tmp_path / "out", _settings())
    assert val["ok"] and val["repeats_accounted"], val
    timed = [r for r in run["repeats"] if not r["warmup"]]
    assert len(timed) == 4  # max_repeats: the CI target cannot be met
    for r in timed:
        assert r["passes"] >= 1 and r["files_ok"] == N * r["passes"]
        assert r["wall_s"] > 0
    s = run["summary"]
    assert s["repeat_mode"] == "ci" and s["stop_reason"] == "max_repeats"
    assert s["ci_target_reached"] is False
    ci = s["files_per_s_ci"]
    assert ci["n"] == 4 and ci["low"] <= s["files_per_s_median"] <= ci["high"]
    assert ci["attained"] < 0.95  # four values cannot give 95 %
    fl = run["floor"]
    assert fl["measured"] and fl["threads"] == 2 and len(fl["repeats"]) == 4
    assert s["fraction_of_floor"] > 0
    assert s["fraction_of_floor_ci"]["low"] <= s["fraction_of_floor_ci"]["high"]
    assert run["rounds"][:2] == ["0:filerate", "0:floor"]  # interleaved
    assert set(run["latency"]) == set(latency.OPS)
    assert run["latency"]["open"]["count"] == sum(r["files_ok"] for r in timed)
    assert s["interference"]["samples"] >= 2
    assert 0 <= s["interference"]["others_cpu_pct"] <= 100
    cpus = run["cluster"]["worker_cpus"]
    assert len(cpus) == 2 and all(v for v in cpus.values())


@pytest.mark.slow
def test_soak_mode_records_intervals_and_a_verdict(timed_corpus, tmp_path):
    settings = _settings(duration_s=1.2, soak_interval_s=0.2, analysis="minimal")
    run, val = _run(timed_corpus, tmp_path / "soak", settings)
    assert val["ok"], val
    soak = run["soak"]
    assert soak["intervals"] == len(soak["series"]) >= 3
    assert soak["series"][0]["t"] == 0
    assert soak["verdict"] in ("stable", "drifting", "too short")
    assert {"rss_bytes", "open_fds", "threads", "files_per_s"} <= set(soak["metrics"])
    assert run["floor"]["measured"] is False
    assert run["summary"]["repeat_mode"] == "soak"
    assert run["summary"]["stop_reason"] == "max_phase_s"
