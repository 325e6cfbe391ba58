"""Shared fixtures: small generated corpora (made once per session), a RAM-disk folder."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

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


@pytest.fixture
def shm_dir():
    """A fresh folder on the tmpfs /dev/shm, removed afterwards."""
    from filerate import stage

    if stage.filesystem("/dev/shm")[1] != "tmpfs":
        pytest.skip("/dev/shm is not a tmpfs here")
    d = Path(tempfile.mkdtemp(prefix=f"filerate-test-{uuid.uuid4().hex[:8]}-", dir="/dev/shm"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def report_site(tmp_path_factory):
    """Simulated phases with their tables, bottleneck report and HTML page (report_site.py),
    built once for every report test."""
    from report_site import build_site

    return build_site(tmp_path_factory.mktemp("site"))
