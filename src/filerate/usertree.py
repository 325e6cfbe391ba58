"""The user-tree mode: ``snakemake --cores all --config tree=/data/project``.

With ``tree`` set, the configured corpora and phases are replaced by one corpus (the tree,
read in place; its ground truth comes from one reference pass, see
:mod:`filerate.corpus.tree`) and three phases that answer "how fast can this machine read
*my* files": warm in place, cold in place, and staged to the RAM disk from a cold source.
``tree_phase`` holds the settings the three share (workers, batch size, analysis,
eviction ...). Nothing is written inside the tree.
"""

from __future__ import annotations

import copy
import os

#: the phases of the user-tree mode: name -> what differs between them
TREE_PHASES = {
    "tree_warm": {"staging": False, "cache": "warm"},
    "tree_cold": {"staging": False, "cache": "cold"},
    "tree_staged": {"staging": True, "cache": "cold"},
}
TREE_CORPUS = "tree"


class TreeError(ValueError):
    """The tree cannot be measured (one line, naming the path)."""


def check_tree(path: str) -> str:
    """The absolute, readable tree, or a one-line error naming it."""
    real = os.path.abspath(os.path.expanduser(str(path)))
    if not os.path.isdir(real):
        raise TreeError(f"config: tree = {path!r}: {real} is not an existing directory")
    if not os.access(real, os.R_OK | os.X_OK):
        raise TreeError(f"config: tree = {path!r}: you cannot list {real} (permission denied)")
    return real


def expand(config: dict) -> dict:
    """``config`` with corpora and phases replaced by the tree's, when ``tree`` is set."""
    tree = config.get("tree")
    if not tree:
        return config
    out = copy.deepcopy(config)
    real = check_tree(tree)
    out["tree"] = real
    shared = dict(out.get("tree_phase") or {})
    out["corpora"] = {TREE_CORPUS: {"source": "tree", "path": real}}
    out["phases"] = {
        name: {**shared, **differs, "corpus": TREE_CORPUS} for name, differs in TREE_PHASES.items()
    }
    out["ablation"] = False
    return out
