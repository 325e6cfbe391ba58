"""filerate.config: schema defaults, one-line errors, worker resolution and ablation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from filerate import config as cfg
from filerate.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
NOT_KNOBS = {"name", "ablation", "resolved"}


def _conf(**phase) -> dict:
    return {"corpora": {"c": {"files": 10}}, "phases": {"p": {"corpus": "c", **phase}}}


def _error(conf, cpu_count=2) -> str:
    with pytest.raises(ConfigError) as info:
        cfg.validate(conf, cpu_count=cpu_count)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert msg.startswith("config:"), msg
    return msg


# ------------------------------------------------------------------ defaults


def test_defaults_are_filled_from_the_schema():
    out = cfg.validate(_conf(), cpu_count=2)
    schema = cfg.schema()
    phase_props = schema["definitions"]["phase"]["properties"]
    phase = out["phases"]["p"]
    for key, sub in phase_props.items():
        if "default" in sub and sub["default"] != {}:  # {}: an object, filled below
            assert phase[key] == sub["default"], key
    slurm_props = schema["definitions"]["slurm"]["properties"]
    assert phase["slurm"] == {key: sub["default"] for key, sub in slurm_props.items()}
    corpus_props = schema["definitions"]["corpus"]["properties"]
    for key, sub in corpus_props.items():
        if "default" in sub:
            assert out["corpora"]["c"][key] == sub["default"], key
    assert out["ramdisk"] == {"root": "/dev/shm", "min_free_memory_gb": 1.0}
    assert out["ablation"] is False
    assert out["predicted_gains_pct"]["workers"] == [150, 200]  # the plan's, from the schema
    assert out["unstable_cv_pct"] == 10


def test_validate_does_not_modify_its_input():
    conf = _conf(batch_size=7)
    before = copy.deepcopy(conf)
    out = cfg.validate(conf, cpu_count=2)
    assert conf == before
    assert out["phases"]["p"]["batch_size"] == 7
    assert out is not conf


def test_explicit_values_are_kept():
    out = cfg.validate(
        _conf(workers="cpu_count*4+16", batch_size=5000, analysis="minimal", processes=3),
        cpu_count=2,
    )
    p = out["phases"]["p"]
    assert (p["workers"], p["batch_size"], p["analysis"], p["processes"]) == (
        "cpu_count*4+16",
        5000,
        "minimal",
        3,
    )


def test_workers_may_be_a_plain_integer():
    assert cfg.validate(_conf(workers=5), cpu_count=2)["phases"]["p"]["workers"] == 5


def test_directory_corpus_with_existing_path(tmp_path):
    conf = {
        "corpora": {"d": {"source": "directory", "path": str(tmp_path), "files": 3}},
        "phases": {"p": {"corpus": "d"}},
    }
    out = cfg.validate(conf, cpu_count=2)
    assert out["corpora"]["d"]["path"] == str(tmp_path)


# ------------------------------------------------------------------ one-line errors

BAD = {
    # id: (config, dotted key, bad value as it appears in the message)
    "batch_size-zero": (_conf(batch_size=0), "phases.p.batch_size", "0"),
    "batch_size-negative": (_conf(batch_size=-5), "phases.p.batch_size", "-5"),
    "workers-zero-expression": (_conf(workers="cpu_count*0"), "phases.p.workers", "cpu_count*0"),
    "workers-negative-int": (_conf(workers=-3), "phases.p.workers", "-3"),
    "workers-negative-expression": (_conf(workers="-cpu_count"), "phases.p.workers", "-cpu_count"),
    "workers-malformed": (_conf(workers="cpu_count*"), "phases.p.workers", "cpu_count*"),
    "workers-true-division": (_conf(workers="cpu_count/2"), "phases.p.workers", "cpu_count/2"),
    "workers-import": (
        _conf(workers="__import__('os').cpu_count()"),
        "phases.p.workers",
        "__import__('os')",
    ),
    "workers-call": (_conf(workers="open('/etc/passwd')"), "phases.p.workers", "open("),
    "workers-bool": (_conf(workers=True), "phases.p.workers", "True"),
    "workers-float": (_conf(workers=1.5), "phases.p.workers", "1.5"),
    "backend-unknown": (_conf(backend="tpu"), "phases.p.backend", "tpu"),
    "analysis-unknown": (_conf(analysis="heavy"), "phases.p.analysis", "heavy"),
    "repeats-zero": (_conf(repeats=0), "phases.p.repeats", "0"),
    "processes-zero": (_conf(processes=0), "phases.p.processes", "0"),
    "gpu-memory-zero": (
        _conf(gpu_memory_per_worker_gb=0),
        "phases.p.gpu_memory_per_worker_gb",
        "0",
    ),
    "staging-string": (_conf(staging="yes"), "phases.p.staging", "yes"),
    "phase-typo": (_conf(batchsize=5), "phases.p", "batchsize"),
    "phase-missing-corpus": (
        {"corpora": {"c": {"files": 10}}, "phases": {"p": {"corpus": "nope"}}},
        "phases.p.corpus",
        "nope",
    ),
    "phase-without-corpus": (
        {"corpora": {"c": {"files": 10}}, "phases": {"p": {"batch_size": 5}}},
        "phases.p",
        "corpus",
    ),
    "phase-name-slash": (
        {"corpora": {"c": {"files": 10}}, "phases": {"a/b": {"corpus": "c"}}},
        "phases.",
        "a/b",
    ),
    "corpus-name-space": (
        {"corpora": {"a b": {"files": 1}}, "phases": {"p": {"corpus": "a b"}}},
        "corpora.",
        "a b",
    ),
    "corpus-files-zero": (
        {"corpora": {"c": {"files": 0}}, "phases": {"p": {"corpus": "c"}}},
        "corpora.c.files",
        "0",
    ),
    "corpus-source-unknown": (
        {"corpora": {"c": {"files": 1, "source": "web"}}, "phases": {"p": {"corpus": "c"}}},
        "corpora.c.source",
        "web",
    ),
    "corpus-typo": (
        {"corpora": {"c": {"files": 1, "seeed": 1}}, "phases": {"p": {"corpus": "c"}}},
        "corpora.c",
        "seeed",
    ),
    "directory-without-path": (
        {"corpora": {"c": {"files": 1, "source": "directory"}}, "phases": {"p": {"corpus": "c"}}},
        "corpora.c.path",
        "directory",
    ),
    "directory-missing-path": (
        {
            "corpora": {"c": {"files": 1, "source": "directory", "path": "/nonexistent/filerate"}},
            "phases": {"p": {"corpus": "c"}},
        },
        "corpora.c.path",
        "/nonexistent/filerate",
    ),
    "missing-corpora": ({"phases": {"p": {"corpus": "c"}}}, "(top level)", "corpora"),
    "missing-phases": ({"corpora": {"c": {"files": 1}}}, "(top level)", "phases"),
    "empty-phases": ({"corpora": {"c": {"files": 1}}, "phases": {}}, "phases", "at least 1"),
    "empty-corpora": ({"corpora": {}, "phases": {"p": {"corpus": "c"}}}, "corpora", "at least 1"),
    "top-level-typo": ({**_conf(), "ablaton": True}, "(top level)", "ablaton"),
    "ramdisk-typo": ({**_conf(), "ramdisk": {"rot": "/x"}}, "ramdisk", "rot"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_gives_one_line_naming_key_and_value(case):
    conf, key, value = BAD[case]
    msg = _error(conf)
    assert key in msg, msg
    assert value in msg, msg


def test_allowed_values_are_named():
    assert "auto, cpu, gpu" in _error(_conf(backend="tpu"))
    assert "minimal, light" in _error(_conf(analysis="heavy"))
    assert ">= 1" in _error(_conf(batch_size=0))
    assert "cpu_count" in _error(_conf(workers="cpu_count**2"))  # says what is allowed
    assert "known keys" in _error(_conf(batchsize=5))
    assert "batch_size" in _error(_conf(batchsize=5))
    assert "c" in _error({"corpora": {"c": {"files": 1}}, "phases": {"p": {"corpus": "x"}}})


def test_zero_workers_message_names_cpu_count():
    msg = _error(_conf(workers="cpu_count*0"), cpu_count=4)
    assert "gives 0" in msg and "cpu_count=4" in msg


def test_workers_are_checked_with_the_given_cpu_count():
    conf = _conf(workers="cpu_count-2")
    assert cfg.validate(conf, cpu_count=4)["phases"]["p"]["workers"] == "cpu_count-2"
    assert "gives 0" in _error(conf, cpu_count=2)


def test_address_and_scheduler_file_together():
    msg = _error(_conf(address="tcp://host:8786", scheduler_file="/tmp/sched.json"))
    assert "phases.p" in msg
    assert "address" in msg and "scheduler_file" in msg


def test_address_and_scheduler_file_message_names_the_values():
    msg = _error(_conf(address="tcp://host:8786", scheduler_file="/tmp/sched.json"))
    assert "tcp://host:8786" in msg


def test_top_level_must_be_a_mapping():
    for bad in ([1, 2], "text", 3, None):
        with pytest.raises(ConfigError, match="mapping"):
            cfg.validate(bad, cpu_count=2)


# ------------------------------------------------------------------ load


def test_load_default_config_has_three_phases_in_order():
    conf = cfg.load(DEFAULT_CONFIG)
    # the plan's three phases, then the two storage phases (cold in place, staged from cold)
    assert list(conf["phases"]) == ["baseline", "legendary", "turbo", "cold", "staged_cold"]
    every = cfg.phases(conf, cpu_count=2)
    assert list(every) == list(conf["phases"])  # ablation is off by default
    assert [(p["cache"], p["staging"]) for p in every.values()][3:] == [
        ("cold", False),
        ("cold", True),
    ]
    ph = {k: every[k] for k in ("baseline", "legendary", "turbo")}
    assert all(p["cache"] == "warm" for p in ph.values())
    assert [p["corpus"] for p in ph.values()] == ["small", "medium", "large"]
    assert [p["workers"] for p in ph.values()] == [
        "cpu_count*2+8",
        "cpu_count*4+16",
        "cpu_count*6+32",
    ]
    assert [p["analysis"] for p in ph.values()] == ["light", "minimal", "minimal"]
    assert [p["resolved"]["workers"] for p in ph.values()] == [12, 24, 44]


def test_default_config_resolves_for_many_cpu_counts():
    conf = cfg.load(DEFAULT_CONFIG)
    for cpus in (1, 2, 4, 16, 128):
        for p in cfg.phases(conf, cpu_count=cpus).values():
            r = p["resolved"]
            assert r["processes"] <= cpus
            assert r["total_threads"] >= r["workers"] >= 1


def test_workflow_schema_is_the_package_schema():
    wf = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert yaml.safe_load(wf.read_text()) == cfg.schema()


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        cfg.load(tmp_path / "nope.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    assert "nope.yaml" in msg and "No such file" in msg


def test_load_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        cfg.load(tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "corpora: [1, 2\nphases: 3\n",
        "corpora:\n  c: {files: 1}\n phases: x\n",
        "a: b: c\n",
        "\tcorpora: {}\n",
    ],
)
def test_load_invalid_yaml_is_one_line(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "not valid YAML" in msg and str(path) in msg


def test_load_empty_file_reports_missing_keys(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(ConfigError, match="required"):
        cfg.load(path)


def test_load_validates(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_conf(backend="tpu")))
    with pytest.raises(ConfigError, match=r"phases\.p\.backend"):
        cfg.load(path)
    path.write_text(yaml.safe_dump(_conf(batch_size=3)))
    assert cfg.load(path)["phases"]["p"]["batch_size"] == 3


# ------------------------------------------------------------------ phases / workers


def test_resolve_default_spreads_threads_over_processes():
    conf = cfg.validate(_conf(workers="cpu_count*2+8"), cpu_count=2)
    r = cfg.phases(conf, cpu_count=2)["p"]["resolved"]
    assert r["expression"] == "cpu_count*2+8"
    assert r["cpu_count"] == 2
    assert (r["workers"], r["processes"], r["threads_per_process"], r["total_threads"]) == (
        12,
        2,
        6,
        12,
    )
    assert "how" in r and r["how"]


def test_resolve_explicit_processes():
    conf = cfg.validate(_conf(workers="cpu_count*2+8", processes=4), cpu_count=2)
    r = cfg.phases(conf, cpu_count=2)["p"]["resolved"]
    assert (r["workers"], r["processes"], r["threads_per_process"], r["total_threads"]) == (
        12,
        4,
        3,
        12,
    )
    assert "explicit" in r["how"]


@pytest.mark.parametrize(
    "workers,cpus,expected",
    [
        (1, 8, (1, 1, 1)),
        (2, 2, (2, 1, 2)),
        (3, 2, (2, 2, 4)),  # rounded up: never fewer threads than workers
        ("cpu_count", 16, (16, 1, 16)),
        ("cpu_count*4+16", 16, (16, 5, 80)),
        ("cpu_count*6+32", 1, (1, 38, 38)),
        ("max(1, cpu_count//2)", 1, (1, 1, 1)),
    ],
)
def test_resolve_table(workers, cpus, expected):
    conf = cfg.validate(_conf(workers=workers), cpu_count=cpus)
    r = cfg.phases(conf, cpu_count=cpus)["p"]["resolved"]
    assert (r["processes"], r["threads_per_process"], r["total_threads"]) == expected
    assert r["total_threads"] >= r["workers"]


def test_phase_settings_are_complete():
    conf = cfg.validate(_conf(), cpu_count=2)
    s = cfg.phases(conf, cpu_count=2)["p"]
    assert s["name"] == "p"
    assert s["ablation"] is None
    for key in ("corpus", "backend", "workers", "batch_size", "analysis", "repeats", "warmup"):
        assert key in s


def _ablation_config() -> dict:
    conf = cfg.load(DEFAULT_CONFIG)
    conf["ablation"] = True
    return conf


def test_ablation_variants_differ_in_exactly_one_knob():
    conf = _ablation_config()
    ph = cfg.phases(conf, cpu_count=2)
    names = list(ph)
    assert names[:3] == ["baseline", "legendary", "turbo"]
    variants = {n: s for n, s in ph.items() if s["ablation"] and s["cache"] == "warm"}
    assert variants, "ablation: true made no variants"
    base = ph["baseline"]
    for name, s in variants.items():
        knob = s["ablation"]["knob"]
        other = s["ablation"]["value_of"]
        assert knob in cfg.ABLATION_KNOBS
        assert name == f"ablate-{knob.split('_per_')[0].replace('_', '-')}-{other}"
        assert s["name"] == name
        assert s["corpus"] == base["corpus"]
        assert s["ablation"]["base"] == "baseline"
        assert s["ablation"]["from"] == base[knob]
        assert s["ablation"]["to"] == ph[other][knob] == s[knob]
        differing = {k for k in (set(s) | set(base)) - NOT_KNOBS if s.get(k) != base.get(k)}
        assert differing == {knob}, (name, differing)
    assert set(variants) == {
        "ablate-workers-legendary",
        "ablate-workers-turbo",
        "ablate-batch-size-legendary",
        "ablate-batch-size-turbo",
        "ablate-gpu-memory-legendary",
        "ablate-gpu-memory-turbo",
        "ablate-analysis-legendary",  # turbo's analysis is the same value: no second variant
    }
    # the workers variant is resolved with its own expression
    assert ph["ablate-workers-turbo"]["resolved"]["workers"] == 44
    assert ph["ablate-batch-size-turbo"]["resolved"]["workers"] == 12


def test_ablation_staging_variant():
    conf = cfg.validate(
        {
            "corpora": {"a": {"files": 1}, "b": {"files": 2}},
            "phases": {
                "base": {"corpus": "a", "staging": True},
                "nostage": {"corpus": "b", "staging": False},
            },
            "ablation": True,
        },
        cpu_count=2,
    )
    ph = cfg.phases(conf, cpu_count=2)
    assert list(ph) == [
        "base",
        "nostage",
        "ablate-staging-nostage",
        "ablate-cache-base",
        "ablate-staging-nostage-cold",
    ]
    v = ph["ablate-staging-nostage"]
    assert v["staging"] is False and v["corpus"] == "a"


def test_ablation_runs_warm_and_cold_side_by_side():
    conf = _ablation_config()
    ph = cfg.phases(conf, cpu_count=2)
    warm = {n for n, s in ph.items() if s["ablation"] and s["cache"] == "warm"}
    cold_base = ph["ablate-cache-baseline"]
    assert cold_base["cache"] == "cold" and cold_base["ablation"]["base"] == "baseline"
    assert cold_base["ablation"]["knob"] == "cache"
    for name in warm:
        twin = ph[f"{name}-cold"]
        assert twin["cache"] == "cold"
        assert twin["ablation"]["base"] == "ablate-cache-baseline"
        assert twin["ablation"]["knob"] == ph[name]["ablation"]["knob"]
        assert {k for k in twin if twin[k] != ph[name].get(k)} == {"cache", "name", "ablation"}
    # the default config's cold storage phases give no knob values to the ablation
    assert not any(n.endswith(("-cold-cold", "-staged_cold")) for n in ph)
    conf["ablation_cold"] = False
    assert not any(s["cache"] == "cold" and s["ablation"] for s in cfg.phases(conf).values())


def test_phases_are_json_serialisable():
    import json

    json.dumps(cfg.phases(_ablation_config(), cpu_count=2))


def test_ablation_variants_use_the_baseline_corpus():
    conf = cfg.load(DEFAULT_CONFIG)
    conf["ablation"] = True
    small = [n for n, p in cfg.phases(conf, cpu_count=2).items() if p["corpus"] == "small"]
    # baseline, its warm variants, the cold baseline, a cold twin of each variant, and the
    # default config's two storage phases
    assert small[0] == "baseline" and len(small) == 1 + 7 + 1 + 7 + 2
