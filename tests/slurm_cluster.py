"""The local one-node Slurm cluster (tools/slurm/localslurm.py) as a session fixture.

Tests that use ``local_slurm`` carry the ``slurm`` marker. Where Slurm cannot run here
(not root, no apt, the packages cannot be installed, a site Slurm owns /etc/slurm) they
skip with the reason; a cluster that installs but fails to start is a test failure, not a
skip. A cluster someone started before the tests is used and left running; one the
fixture started is stopped afterwards, and no daemon it started may survive.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_localslurm():
    spec = importlib.util.spec_from_file_location(
        "localslurm", ROOT / "tools" / "slurm" / "localslurm.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def local_slurm():
    ls = load_localslurm()
    try:
        info = ls.start()
    except ls.Unavailable as exc:
        pytest.skip(f"local Slurm cannot run here: {exc}")
    old_conf = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = info["slurm_conf"]
    try:
        yield info
    finally:
        if old_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old_conf
        if info["started"]:
            pids = dict(info["daemons"])
            ls.stop()
            left = {name: pid for name, pid in pids.items() if ls.alive(pid)}
            assert not left, f"daemons still running after stop: {left}"
