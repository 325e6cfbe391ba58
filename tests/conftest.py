"""Shared fixtures: small generated corpora (made once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """A 600-file synthetic corpus with every kind of file the generator plants."""
    from filerate import corpus

    out = tmp_path_factory.mktemp("corpus") / "small"
    corpus.generate(
        "small",
        {"files": 600, "seed": 11, "binary_rate": 0.02, "empty_rate": 0.02, "non_ascii_rate": 0.1},
        out,
    )
    return out
