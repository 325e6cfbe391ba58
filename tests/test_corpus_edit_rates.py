"""Planted near-duplicates with controlled edit rates (`near_duplicate_edit_rates`): the
share of changed bytes follows the setting, the rest of the corpus is unchanged, and the
same settings give the same corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from filerate import corpus
from filerate.corpus.synthetic import Plan
from filerate.errors import ConfigError

BASE = {"files": 300, "seed": 13, "near_duplicate_rate": 0.1, "duplicate_rate": 0.03}
RATES = [0.01, 0.05]


def _plan(settings):
    return Plan(corpus.fill_settings("c", settings))


def test_only_near_copies_change():
    plain, rated = _plan(BASE), _plan({**BASE, "near_duplicate_edit_rates": RATES})
    assert "near_duplicate_edit_rates" not in corpus.fill_settings("c", BASE)
    for i in range(plain.n):
        if not rated.near_copy[i]:
            assert plain.content(i) == rated.content(i)
            assert plain.rel_path(i) == rated.rel_path(i)


def test_changed_share_follows_the_rate():
    plan = _plan({**BASE, "near_duplicate_edit_rates": RATES})
    seen = set()
    for i in np.flatnonzero(plan.near_copy):
        a, b = plan.content(int(plan.orig[i])), plan.content(i)
        assert len(a) == len(b) and a != b
        changed = np.count_nonzero(np.frombuffer(a, np.uint8) != np.frombuffer(b, np.uint8))
        alnum = sum(bytes([c]).isalnum() for c in a) if not plan.binary[i] else len(a)
        rate = plan.edit_rate[i]
        seen.add(float(rate))
        assert changed == min(alnum, max(1, round(rate * alnum))) or plan.binary[i]
    assert seen == set(RATES)


def test_same_settings_same_corpus(tmp_path):
    settings = {**BASE, "near_duplicate_edit_rates": RATES}
    r1 = corpus.generate("c", settings, tmp_path / "a", processes=1)
    r2 = corpus.generate("c", settings, tmp_path / "b", processes=2)
    assert r1["manifest_digest"] == r2["manifest_digest"]
    assert r1["planted"]["near_duplicate_edit_rates"] == RATES
    m = pd.read_parquet(tmp_path / "a" / "manifest.parquet")
    assert (m["near_dup_group"] >= 0).sum() > 20


def test_rates_are_checked():
    with pytest.raises(ConfigError, match="near_duplicate_edit_rates"):
        corpus.fill_settings("c", {**BASE, "near_duplicate_edit_rates": [0]})
