"""The repeat rule's config keys: defaults, the cross-check, and fixed counts."""

from __future__ import annotations

import pytest

from filerate import config as cfg
from filerate.errors import ConfigError


def _conf(**phase):
    return {"corpora": {"c": {"files": 10}}, "phases": {"p": {"corpus": "c", **phase}}}


def test_defaults_choose_repeats_by_the_ci_rule():
    p = cfg.validate(_conf(), cpu_count=2)["phases"]["p"]
    assert p["repeats"] is None
    assert p["min_repeats"] == 6 and p["max_repeats"] >= p["min_repeats"]
    assert p["ci_target_pct"] > 0 and p["min_repeat_s"] > 0 and p["max_phase_s"] > 0
    assert p["floor"] is True and p["duration_s"] is None


def test_min_repeats_above_max_repeats_is_one_line():
    with pytest.raises(ConfigError, match=r"phases\.p\.min_repeats = 9: must be <= max_repeats"):
        cfg.validate(_conf(min_repeats=9, max_repeats=3), cpu_count=2)


@pytest.mark.parametrize(
    ("key", "value"),
    [("ci_target_pct", 0), ("min_repeat_s", -1), ("max_phase_s", 0), ("duration_s", 0)],
)
def test_bad_values_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"phases.p.{key}"):
        cfg.validate(_conf(**{key: value}), cpu_count=2)


def test_a_soak_longer_than_the_timeout_is_refused():
    with pytest.raises(ConfigError, match=r"phases\.p\.duration_s = 700: must be < timeout_s"):
        cfg.validate(_conf(duration_s=700, timeout_s=600), cpu_count=2)


def test_the_soak_config_is_valid():
    from pathlib import Path

    conf = cfg.load(Path(__file__).resolve().parents[1] / "config" / "soak.yaml")
    assert conf["phases"]["soak"]["duration_s"] == 600
