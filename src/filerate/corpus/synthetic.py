"""A synthetic corpus: the seeded plan (which file gets which type, size, path and content;
planted duplicates and near-duplicates) and writing its tree, in parallel when it is large.

Every random draw is made up front, in a fixed order, so file i's content is a pure function
of the plan: the tree is byte-identical for the same settings whatever the process count.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from pathlib import Path

import numpy as np

from filerate import config as cfg
from filerate.corpus import content
from filerate.corpus.fileio import write_file
from filerate.corpus.manifest import Rows
from filerate.corpus.progress import Progress

#: (content pool, extension, share of the non-binary files). The shares sum to 1.
CATEGORIES = (
    ("python", b".py", 0.595),
    ("python", b".PY", 0.005),  # upper case: type "other" (extensions are case-sensitive)
    ("markdown", b".md", 0.10),
    ("json", b".json", 0.07),
    ("text", b".txt", 0.07),
    ("log", b".log", 0.07),
    ("csv", b".csv", 0.06),
    ("config", b".toml", 0.01),
    ("config", b".cfg", 0.008),
    ("config", b".yaml", 0.007),
    ("config", b"", 0.005),  # no extension
)
BINARY_EXT = b".bin"
SUBDIRS_PER_PACKAGE = 10
COPIES_PER_GROUP = 1.5  # planted copies per original, on average
NEAR_EDIT_DRAWS = 9  # uniform draws per near copy: how many bytes change, where, to what
PARALLEL_MIN_FILES = 5000
CHUNK_FILES = 2500
MAX_PROCESSES = 8  # default cap on worker processes for synthetic generation


class Plan:
    """Everything about a synthetic corpus, drawn up front: file i's content is a pure
    function of the plan, so files can be built in any order or process."""

    def __init__(self, settings: dict):
        self.n = n = int(settings["files"])
        rng = np.random.Generator(np.random.PCG64(int(settings["seed"])))
        # the draw order below is part of the corpus's definition: keep it
        self.pools = content.build_pools(rng)
        self._draw_files(settings, rng)
        originals = self._plant_copies(settings, rng)
        # a copy looks like its original: same extension, pool, flags and size
        for arr in (self.cat, self.size, self.empty, self.binary, self.unicode, self.u_off):
            arr[:] = arr[originals]
        self._lay_out_paths(int(settings["files_per_dir"]))
        self._wf = max(6, len(str(n - 1)))
        self.edit_rate = None  # without near_duplicate_edit_rates: 1-4 bytes (perturb)
        if settings.get("near_duplicate_edit_rates"):  # drawn last: earlier draws unchanged
            self._plan_edit_rates(settings["near_duplicate_edit_rates"], rng)

    def _plan_edit_rates(self, rates: list[float], rng: np.random.Generator) -> None:
        """Each near copy's share of changed bytes (cycling through ``rates``) and seed."""
        self.edit_rate = np.zeros(self.n, dtype=np.float64)
        copies = np.flatnonzero(self.near_copy)
        self.edit_rate[copies] = np.resize(np.asarray(rates, dtype=np.float64), len(copies))
        self.edit_seed = rng.integers(0, 2**63, size=self.n)
        self.planted["near_duplicate_edit_rates"] = [float(r) for r in rates]

    def _draw_files(self, s: dict, rng: np.random.Generator) -> None:
        """Per-file type, size, flags and where in its pool its content starts."""
        n = self.n
        shares = np.array([c[2] for c in CATEGORIES])
        cat = np.searchsorted(np.cumsum(shares / shares.sum()), rng.random(n), side="right")
        self.cat = np.minimum(cat, len(CATEGORIES) - 1)
        mean, sigma = float(s["mean_bytes"]), float(s["sigma"])
        mu = math.log(mean) - sigma * sigma / 2  # lognormal mean = exp(mu + sigma^2/2)
        sizes = np.rint(rng.lognormal(mu, sigma, n))
        self.size = np.clip(sizes, 1, int(s["max_bytes"])).astype(np.int64)
        self.empty = rng.random(n) < float(s["empty_rate"])
        self.binary = (rng.random(n) < float(s["binary_rate"])) & ~self.empty
        self.unicode = (rng.random(n) < float(s["non_ascii_rate"])) & ~self.binary
        self.u_off = rng.random(n)
        self.size[self.empty] = 0

    def _plant_copies(self, s: dict, rng: np.random.Generator) -> np.ndarray:
        """Choose exact and near copies (distinct non-empty files) and their groups; return
        for each file the index of the file its content comes from (itself if no copy)."""
        n = self.n
        self.orig = np.full(n, -1, dtype=np.int64)  # index of the file a copy is made from
        self.dup_group = np.full(n, -1, dtype=np.int64)
        self.near_group = np.full(n, -1, dtype=np.int64)
        candidates = np.flatnonzero(~self.empty)
        counts = _copy_counts(s, n, len(candidates))
        chosen = rng.permutation(candidates)
        cuts = np.cumsum(counts)
        orig_dup, orig_near = chosen[: cuts[0]], chosen[cuts[0] : cuts[1]]
        copy_dup, copy_near = chosen[cuts[1] : cuts[2]], chosen[cuts[2] : cuts[3]]
        self._group(rng, orig_dup, copy_dup, self.dup_group)
        self._group(rng, orig_near, copy_near, self.near_group)
        self.near_mods = rng.random((n, NEAR_EDIT_DRAWS))  # only near copies' rows are used
        self.near_copy = np.zeros(n, dtype=bool)
        self.near_copy[copy_near] = True
        self.planted = {
            "duplicate_copies": len(copy_dup),
            "dup_groups": len(orig_dup),
            "near_duplicate_copies": len(copy_near),
            "near_dup_groups": len(orig_near),
        }
        return np.where(self.orig >= 0, self.orig, np.arange(n))

    def _group(
        self,
        rng: np.random.Generator,
        originals: np.ndarray,
        copies: np.ndarray,
        groups: np.ndarray,
    ) -> None:
        """Number the groups of ``originals`` and share ``copies`` out among them."""
        g = len(originals)
        if not g:
            return
        # every group gets at least one copy; the rest land at random
        which = np.concatenate(
            [np.arange(min(g, len(copies))), rng.integers(0, g, size=max(0, len(copies) - g))]
        )
        groups[originals] = np.arange(g)
        groups[copies] = which
        self.orig[copies] = originals[which]

    def _lay_out_paths(self, per_dir: int) -> None:
        """pkg_NNNN/mod_NN/name_NNNNNN.ext, about ``per_dir`` files per leaf directory."""
        leaves = (self.n + per_dir - 1) // per_dir
        wp = max(4, len(str(max(0, leaves - 1) // SUBDIRS_PER_PACKAGE)))
        self.leaf_dirs = [
            f"pkg_{d // SUBDIRS_PER_PACKAGE:0{wp}d}/mod_{d % SUBDIRS_PER_PACKAGE:02d}".encode()
            for d in range(leaves)
        ]
        self.per_dir = per_dir

    def stem(self, i: int) -> str:
        return f"name_{i:0{self._wf}d}"

    def rel_path(self, i: int) -> bytes:
        ext = BINARY_EXT if self.binary[i] else CATEGORIES[self.cat[i]][1]
        return b"%s/%s%s" % (self.leaf_dirs[i // self.per_dir], self.stem(i).encode(), ext)

    def content(self, i: int) -> bytes:
        size = int(self.size[i])
        if size == 0:
            return b""
        j = int(self.orig[i]) if self.orig[i] >= 0 else i
        data = self._base(j, size)
        if self.near_copy[i] and self.edit_rate is not None:
            rate, seed = float(self.edit_rate[i]), int(self.edit_seed[i])
            data = content.perturb_share(data, rate, seed, bool(self.binary[i]))
        elif self.near_copy[i]:
            data = content.perturb(data, self.near_mods[i], bool(self.binary[i]))
        return data

    def _base(self, j: int, size: int) -> bytes:
        """File ``j``'s own content, ``size`` bytes long."""
        if self.binary[j]:
            head = content.binary_header(self.stem(j))
            return content.cut_binary(self.pools[("binary", False)], head, size, self.u_off[j])
        kind, unicode = CATEGORIES[self.cat[j]][0], bool(self.unicode[j])
        head = content.header(kind, self.stem(j), unicode)
        return content.cut(self.pools[(kind, unicode)], head, size, self.u_off[j], unicode)


def _copy_counts(s: dict, n: int, available: int) -> tuple[int, int, int, int]:
    """(duplicate groups, near-duplicate groups, duplicate copies, near copies): originals
    and copies are distinct files, so extreme rates on a tiny corpus are scaled down."""
    n_dup = int(round(float(s["duplicate_rate"]) * n))
    n_near = int(round(float(s["near_duplicate_rate"]) * n))
    g_dup, g_near = math.ceil(n_dup / COPIES_PER_GROUP), math.ceil(n_near / COPIES_PER_GROUP)
    need = n_dup + n_near + g_dup + g_near
    if need > available:
        scale = available / need
        n_dup, n_near = int(n_dup * scale), int(n_near * scale)
        g_dup = min(n_dup, math.ceil(n_dup / COPIES_PER_GROUP))
        g_near = min(n_near, math.ceil(n_near / COPIES_PER_GROUP))
    return g_dup, g_near, n_dup, n_near


# --------------------------------------------------------------------------- writing the tree


_PLAN: Plan | None = None  # the plan a forked worker builds from


def _write_chunk(task: tuple[bytes, int, int]) -> dict[str, list]:
    """Write files ``start``..``stop`` under ``root``; return their manifest columns."""
    root, start, stop = task
    plan = _PLAN
    rows = Rows()
    for i in range(start, stop):
        rel = plan.rel_path(i)
        data = plan.content(i)
        write_file(root + b"/" + rel, data)
        rows.add(rel, data, int(plan.dup_group[i]), int(plan.near_group[i]))
    return rows.cols


def _default_processes(n: int) -> int:
    if n < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(MAX_PROCESSES, cfg.usable_cpus()))


def generate_synthetic(name: str, settings: dict, tmp: Path, processes: int | None) -> tuple:
    """Write the tree of synthetic corpus ``name`` into ``tmp``: (Rows, corpus.json extras)."""
    global _PLAN
    plan = Plan(settings)
    root = os.fsencode(tmp)
    for leaf in plan.leaf_dirs:
        os.makedirs(root + b"/" + leaf, exist_ok=True)
    n = plan.n
    tasks = [(root, a, min(n, a + CHUNK_FILES)) for a in range(0, n, CHUNK_FILES)]
    processes = processes or _default_processes(n)
    if "fork" not in multiprocessing.get_all_start_methods():
        processes = 1  # workers inherit the plan by fork
    processes = max(1, min(processes, len(tasks)))
    progress = Progress(name, n)
    rows = Rows()
    _PLAN = plan
    try:
        if processes == 1:
            for cols in map(_write_chunk, tasks):
                rows.extend(cols)
                progress.update(len(rows))
        else:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                for cols in pool.imap(_write_chunk, tasks):
                    rows.extend(cols)
                    progress.update(len(rows))
    finally:
        _PLAN = None
    return rows, {"planted": plan.planted, "processes": processes}
