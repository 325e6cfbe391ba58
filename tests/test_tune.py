"""filerate tune: the search on synthetic objectives (no timing), its stopping rules, the
tuned fragment round trip through the schema and the real engine, the cache."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from filerate import config as cfg
from filerate import validate
from filerate.confidence import StoppingRule
from filerate.engine import process
from filerate.errors import ConfigError
from filerate.tune import cache, fingerprint, output
from filerate.tune import request as req
from filerate.tune.search import DominatedRule, Grid, Measured, Point, Search, knob_order

GRID = Grid((1, 2), (1, 2, 4, 8, 16), (250, 500, 1000, 2500, 5000, 10000))
OPTIMUM = Point(1, 4, 2500)


def _peak(p: Point) -> float:
    """A synthetic files/s with one peak at OPTIMUM, falling off geometrically."""
    d = (
        abs(p.processes - OPTIMUM.processes)
        + abs(GRID.threads.index(p.threads) - GRID.threads.index(OPTIMUM.threads))
        + abs(GRID.batch_size.index(p.batch_size) - GRID.batch_size.index(OPTIMUM.batch_size))
    )
    return 100_000 * 0.8**d


def _objective(width: float = 0.01, hints: dict | None = None):
    """measure(point, best) with a CI of ±width around the synthetic value."""
    calls = []

    def measure(p: Point, best):
        calls.append(p)
        v = _peak(p)
        return Measured(p, v, v * (1 - width), v * (1 + width), dict(hints or {}))

    return measure, calls


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("start", [Point(2, 16, 250), Point(1, 1, 10000), Point(2, 1, 250)])
def test_search_finds_the_known_optimum_with_few_measurements(start):
    measure, calls = _objective()
    outcome = Search(GRID, measure, budget_s=1e9).run(start)
    assert outcome.best.point == OPTIMUM
    assert outcome.stop_reason == "converged"
    assert len(calls) == len(set(calls))  # no point measured twice
    assert len(calls) < GRID.size() / 2
    assert outcome.path[0] == start and outcome.path[-1] == OPTIMUM


def test_search_stops_when_neighbours_cis_overlap():
    # a CI of ±30 % swallows the 20 % steps: no neighbour is better beyond the intervals
    measure, calls = _objective(width=0.3)
    start = Point(1, 2, 2500)
    outcome = Search(GRID, measure, budget_s=1e9).run(start)
    assert outcome.stop_reason == "converged"
    assert outcome.path == [start]
    assert set(calls[1:]) == set(GRID.neighbours(start))


def test_search_stops_when_the_budget_is_spent():
    clock = FakeClock()
    inner, calls = _objective()

    def measure(p, best):
        clock.t += 10.0  # every point takes 10 s
        return inner(p, best)

    outcome = Search(GRID, measure, budget_s=35.0, clock=clock).run(Point(2, 16, 250))
    assert outcome.stop_reason == "budget"
    assert len(calls) == 3  # 0-10, 10-20, 20-30; a fourth would end at 40 > 35
    assert clock.t <= 35.0


def test_a_point_with_file_errors_is_never_the_best():
    def measure(p, best):
        v = _peak(p)
        errors = 5 if p == OPTIMUM else 0
        return Measured(p, v, v * 0.99, v * 1.01, {"files_error": errors})

    outcome = Search(GRID, measure, budget_s=1e9).run(Point(1, 2, 2500))
    assert outcome.best.point != OPTIMUM
    assert outcome.best.ok


def test_dominated_rule_stops_a_point_clearly_below_the_best():
    rule = DominatedRule(StoppingRule(6, 10, 5.0, 60.0), best_low=1000.0)
    assert rule.decide([900, 950], 0.1) == (False, "continue")  # too few to judge
    assert rule.decide([900, 950, 990], 0.1) == (True, "below_best")
    assert rule.decide([900, 950, 1001], 0.1) == (False, "continue")  # one reached it
    # without a best, the point's own rule decides
    plain = DominatedRule(StoppingRule(2, 2, 5.0, 60.0), best_low=None)
    assert plain.decide([1, 100], 0.1) == (True, "max_repeats")
    assert plain.decide([1], 0.1) == (False, "continue")


def test_the_breakdown_decides_which_knob_moves_first():
    assert knob_order({"slot_utilisation": 0.4, "cpu_busy": 0.5})[0] == "batch_size"
    assert knob_order({"slot_utilisation": 0.95, "cpu_busy": 0.5})[0] == "threads"
    saturated = knob_order({"slot_utilisation": 0.95, "cpu_busy": 0.99})
    assert saturated[0] == "threads"
    assert all(order[-1] == "processes" for order in (saturated, knob_order({})))  # restarts
    # moving the suggested knob first finds the better batch size in one measurement
    measure, calls = _objective(hints={"slot_utilisation": 0.3})
    Search(GRID, measure, budget_s=1e9).run(Point(1, 4, 1000))
    assert calls[1] == Point(1, 4, 2500)


def test_pareto_front_and_sentence():
    a = Measured(Point(1, 2, 2500), 100.0, 95, 105, {"rss_bytes": 300})
    b = Measured(Point(2, 8, 2500), 90.0, 85, 95, {"rss_bytes": 600})  # worse on all three
    c = Measured(Point(1, 1, 2500), 80.0, 75, 85, {"rss_bytes": 200})  # less memory
    assert output.pareto([a, b, c]) == {0, 2}
    frame = output.points_frame([a, b, c], a)
    assert list(frame["pareto"]) == [True, False, True]
    assert list(frame["best"]) == [True, False, False]
    side = {"files_per_s_ci": {"low": 1.0, "high": 3.0}, "files_error": 0}
    result = {
        "compare_phase": "turbo",
        "comparison": {
            "best": {**side, "point": a.point.as_dict(), "files_per_s_median": 2000.0},
            "plan": {
                **side,
                "point": Point(2, 22, 10000).as_dict(),
                "files_per_s_median": 1000.0,
                "processes": 2,
                "threads_per_process": 22,
            },
            "ratio": {"ratio": 2.0, "low": 1.5, "high": 2.5},
        },
    }
    text = output.sentence(result)
    assert text.startswith("best here: 2,000 files/s [1–3] with 1 process × 2 threads, batch 2,500")
    assert "the plan's turbo settings (2 × 22 threads, batch 10,000): 1,000 files/s" in text
    assert "2.00× slower" in text
    assert not output.plan_won(result["comparison"])
    # the plan measured faster beyond the CI: it is the setting kept, and the sentence says so
    result["comparison"]["ratio"] = {"ratio": 0.88, "low": 0.86, "high": 0.91}
    assert output.plan_won(result["comparison"])
    result.update(winner="plan", stop_reason="budget", points_measured=4, grid_size=56)
    text = output.sentence(result)
    assert "1.14× faster than the best" in text
    assert "after 4 of 56 points, so best.yaml keeps the plan's turbo settings" in text


def _config(corpus_dir=None) -> dict:
    return cfg.validate(
        {
            "corpora": {"small": {"files": 600, "seed": 11}},
            "phases": {
                "turbo": {
                    "corpus": "small",
                    "backend": "cpu",
                    "workers": "cpu_count*6+32",
                    "batch_size": 10000,
                    "analysis": "minimal",
                    "staging": False,
                }
            },
            "tune": {"batch_sizes": [50, 100, 250, 1000]},
        },
        cpu_count=2,
    )


def test_request_grid_and_plan_point():
    request = req.build(_config(), cpu_count=2)
    assert request["compare_phase"] == "turbo" and request["corpus"] == "small"
    g = req.grid(request, files=600, gpu_processes=None)
    assert g.processes == (1, 2) and g.threads == (1, 2, 4, 8)
    assert g.batch_size == (50, 100, 250)  # 1000 is more than the corpus
    assert req.plan_point(request, None) == Point(2, 22, 10000)
    assert req.start_point(g, 600, 2) == Point(1, 2, 100)  # ~4 tasks per thread: 75
    assert req.start_point(g, 600, 2, cold=True) == Point(1, 8, 50)  # queue depth
    with pytest.raises(ConfigError, match="tune.compare_phase"):
        bad = _config()
        bad["tune"]["compare_phase"] = "nope"
        req.build(bad, cpu_count=2)


def test_tuned_fragment_validates_and_runs_as_a_phase(small_corpus, tmp_path):
    request = req.build(_config(), cpu_count=2)
    best = Point(1, 2, 250)
    text = output.best_yaml(
        req.tuned_fragment(request, best, "cpu"),
        {
            "sentence": "s",
            "fingerprint_digest": "x",
            "fingerprint": {"cpu_model": "m", "usable_cpus": 2},
        },
    )
    path = tmp_path / "best.yaml"
    path.write_text(text)
    loaded = cfg.load(path)  # the fragment is a valid config on its own
    settings = cfg.phases(loaded, cpu_count=2)[req.TUNED_PHASE]
    assert settings["resolved"]["processes"] == 1
    assert settings["resolved"]["threads_per_process"] == 2
    assert settings["batch_size"] == 250
    # and merged into a plan (as Snakemake's --configfile does), it adds the phase
    plan = {
        "corpora": {"small": {"files": 600, "seed": 11}},
        "phases": {"base": {"corpus": "small"}},
    }
    merged = cfg.validate({**plan, "phases": {**plan["phases"], **yaml.safe_load(text)["phases"]}})
    assert list(merged["phases"]) == ["base", "tuned"]
    settings.update(warmup=0, repeats=1, min_repeat_s=0, floor=False)
    out = tmp_path / "tuned"
    manifest = str(small_corpus / "manifest.parquet")
    run = process.run_phase(settings, manifest, str(small_corpus / "files"), None, out)
    assert run["status"] == "ok"
    assert run["cluster"]["processes"] == 1 and run["cluster"]["threads_per_process"] == 2
    files = pd.read_parquet(out / "files.parquet")
    assert validate.validate(pd.read_parquet(manifest), files, run)["ok"]


def test_cache_is_reused_and_invalidated_when_the_fingerprint_changes(tmp_path):
    fp = fingerprint.fingerprint(str(tmp_path), gpu_names=[])
    assert {"cpu_model", "usable_cpus", "memory_mib", "gpus", "corpus_storage"} <= set(fp)
    request = {"corpus": "small", "analysis": "minimal"}
    assert cache.lookup(tmp_path, fp, request) is None
    cache.store(tmp_path, fp, request, {"result": {"best": 1}})
    assert cache.lookup(tmp_path, fp, request)["result"] == {"best": 1}
    assert cache.lookup(tmp_path, fp, {**request, "analysis": "light"}) is None
    for changed in (
        {"usable_cpus": fp["usable_cpus"] + 1},
        {"gpus": ["NVIDIA H100"]},
        {"corpus_storage": {"device": "nvme0n1", "fs_type": "xfs"}},
    ):
        assert cache.lookup(tmp_path, {**fp, **changed}, request) is None
    # another request on the same hardware joins the same file; the first stays
    cache.store(tmp_path, fp, {**request, "analysis": "light"}, {"result": {"best": 2}})
    assert cache.lookup(tmp_path, fp, request)["result"] == {"best": 1}
    # a damaged file is a miss, never an error
    cache.path_for(tmp_path, fp).write_text("{not json")
    assert cache.lookup(tmp_path, fp, request) is None
    json.dumps(fp)  # the fingerprint is plain JSON


def test_html_section_appears_only_with_a_tune_result(tmp_path):
    from filerate.reports.html.tuned import section_tuned

    assert section_tuned(tmp_path / "none") == ""
    a = Measured(Point(1, 2, 2500), 100.0, 95, 105, {"rss_bytes": 3e8, "repeats": 6})
    frame = output.points_frame([a], a)
    (tmp_path / "points.tsv").write_text(frame.to_csv(sep="\t", index=False))
    result = {"sentence": "best here: <100> files/s", "points_measured": 1, "grid_size": 56}
    (tmp_path / "tune.json").write_text(json.dumps(result))
    html = section_tuned(tmp_path)
    assert "id='tuned'" in html and "best here: &lt;100&gt; files/s" in html
    assert "1 × 2" in html and "300.0 MB" in html


def _max_overlap(rows) -> int:
    """Most tasks running at once on one worker, from their start and stop times."""
    events = sorted([(r.start, 1) for r in rows] + [(r.stop, -1) for r in rows])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_a_point_on_a_warm_cluster_runs_at_most_its_threads_at_once(small_corpus, tmp_path):
    """The search's thread count is a Dask resource on a cluster started with more threads:
    a point with 1 thread runs one task at a time, reads every file, and the same cluster
    serves a point with more threads (no restart)."""
    import dask

    from filerate.engine import cluster as engine_cluster
    from filerate.engine import coldrun, rounds
    from filerate.tune import measure

    conf = _config()
    conf["tune"].update(max_threads=4, min_repeats=1, max_repeats=1)
    request = req.build(conf, cpu_count=2)
    manifest = str(small_corpus / "manifest.parquet")
    frame = coldrun.read_manifest(manifest)
    backend = engine_cluster.choose_backend(request["base"])
    ctx = measure.Context(
        request, manifest, str(small_corpus / "files"), len(frame), backend, str(tmp_path)
    )
    ctx.storage = coldrun.RepeatStorage.prepare(
        ctx.settings(Point(1, 1, 50), "t"), manifest, frame, ctx.data_dir, None
    )
    clusters = measure.SearchClusters(ctx)
    measurer = measure.PointMeasurer(ctx, clusters)
    try:
        one = measurer(Point(1, 1, 50), None)
        info = clusters.info
        with dask.annotate(resources={measure.SLOT: 1}):
            series, done = measure.measure_series(
                ctx, info, ctx.settings(Point(1, 1, 50), "x"), StoppingRule(1, 1, 5.0, 60.0)
            )
            rounds.run_rounds([series])
        assert _max_overlap([r for r in done.batch_rows if not r.warmup]) == 1
        four = measurer(Point(1, 4, 50), one)
        assert clusters.info is info  # the same warm cluster
        workers = engine_cluster.worker_info(info.client)
        assert [w["resources"][measure.SLOT] for w in workers.values()] == [4]
    finally:
        clusters.close()
    assert one.ok and four.ok and one.median > 0
    assert len(ctx.startups) == 1 and ctx.startups[0]["threads"] == 4


def test_a_point_may_run_for_its_settings_timeout(monkeypatch):
    """A point's deadline is its settings' timeout_s (as a phase's), not a fixed 120 s that
    the min_repeats of a corpus with a long pass cannot fit in."""
    import time
    from types import SimpleNamespace

    from filerate.tune import measure

    seen = {}
    monkeypatch.setattr(measure.taskspec, "task_spec", lambda *a: {})
    monkeypatch.setattr(measure.taskspec, "batches", lambda *a: [])
    monkeypatch.setattr(measure.scheduler_log, "SchedulerLog", lambda client: None)
    monkeypatch.setattr(measure.repeats, "run_warmup", lambda rctx, done: seen.update(r=rctx))
    monkeypatch.setattr(measure.repeats, "timed_series", lambda *a: "series")
    ctx = measure.Context({"min_repeat_s": 0.0}, "m", "d", 1, {}, "r")
    info = SimpleNamespace(device="cpu", client=None)
    series, _ = measure.measure_series(ctx, info, {"timeout_s": 1000.0, "batch_size": 1}, None)
    assert series == "series"
    assert 990 < seen["r"].deadline - time.monotonic() <= 1000
