"""Judging a ``full`` phase's duplicates against the corpus's planted truth (validate).

The judge is independent of the engine: it computes Jaccard similarity from Python sets of
the byte shingles themselves (no hashing). Truth: every pair of files in one planted
near-duplicate group (manifest ``near_dup_group``), positive when its Jaccard is at least
the threshold; the corpus's ``near_duplicate_edit_rates`` put some planted pairs just
below it. Recall is over the planted positives; precision is the share of reported
near pairs whose Jaccard, computed here, reaches the threshold (a synthetic corpus also
holds unplanted near-duplicates: files cut from overlapping parts of one content pool),
and ``precision_vs_planted`` the share that are planted pairs. A ratio with nothing to
count is "undefined", never 0 or 1.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

UNDEFINED = "undefined"
MAX_JUDGED_PAIRS = 2000  # found pairs re-checked for precision (a seeded sample beyond)


def shingles(data: bytes, k: int) -> set[bytes]:
    """The set of ``k``-byte shingles (a shorter non-empty file is one shingle)."""
    if len(data) < k:
        return {data} if data else set()
    return {data[p : p + k] for p in range(len(data) - k + 1)}


def true_jaccard(a: bytes, b: bytes, k: int) -> float:
    sa, sb = shingles(a, k), shingles(b, k)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 1.0


def ratio(num: int, den: int):
    return num / den if den else UNDEFINED


def f1(precision, recall):
    if UNDEFINED in (precision, recall) or precision + recall == 0:
        return UNDEFINED
    return 2 * precision * recall / (precision + recall)


def planted_pairs(manifest: pd.DataFrame) -> list[tuple[str, str]]:
    """Every unordered pair (sorted paths) within each planted near-duplicate group."""
    planted = manifest[manifest["near_dup_group"] >= 0]
    pairs = []
    for _, paths in planted.groupby("near_dup_group")["path"]:
        members = sorted(paths)
        pairs += [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
    return pairs


class _Reader:
    """File bytes by display path, read once."""

    def __init__(self, manifest: pd.DataFrame, files_dir: str):
        self.raw = dict(zip(manifest["path"], manifest["path_raw"], strict=True))
        self.root = os.fsencode(files_dir)
        self.cache: dict[str, bytes] = {}

    def __call__(self, path: str) -> bytes:
        if path not in self.cache:
            with open(os.path.join(self.root, bytes(self.raw[path])), "rb") as fh:
                self.cache[path] = fh.read()
        return self.cache[path]


def judge_near(manifest, dups: pd.DataFrame, files_dir: str, params: dict) -> dict:
    """Precision, recall and F1 of the reported near pairs (see the module's doc)."""
    k, t = params["shingle_bytes"], params["threshold"]
    read = _Reader(manifest, files_dir)
    near = dups[dups["kind"] == "near"]
    found = {tuple(sorted(p)) for p in zip(near["path_a"], near["path_b"], strict=True)}
    truth = {p: true_jaccard(read(p[0]), read(p[1]), k) for p in planted_pairs(manifest)}
    positives = {p for p, j in truth.items() if j >= t}
    below = set(truth) - positives
    judged = sorted(found)
    if len(judged) > MAX_JUDGED_PAIRS:
        pick = np.random.default_rng(0).choice(len(judged), MAX_JUDGED_PAIRS, replace=False)
        judged = [judged[i] for i in sorted(pick)]
    right = sum(truth.get(p, true_jaccard(read(p[0]), read(p[1]), k)) >= t for p in judged)
    precision, recall = ratio(right, len(judged)), ratio(len(found & positives), len(positives))
    return {
        "threshold": t,
        "planted_truth": bool(truth),
        "planted_pairs": len(truth),
        "planted_positives": len(positives),
        "planted_below_threshold": len(below),
        "planted_below_threshold_reported": len(found & below),
        "reported_near_pairs": len(found),
        "found_planted_positives": len(found & positives),
        "unplanted_reported": len(found - set(truth)),
        "precision_judged_pairs": len(judged),
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
        "precision_vs_planted": ratio(len(found & positives), len(found)),
        "note": (
            None
            if truth
            else "no planted truth in this corpus: precision is judged on the reported "
            "pairs, recall cannot be measured; the groups found are listed in "
            "duplicates.parquet"
        ),
    }


def judge_exact(manifest: pd.DataFrame, dups: pd.DataFrame) -> dict:
    """Exact duplicates: truth is equal xxh3 and size (non-empty files) in the manifest."""
    full = manifest[manifest["bytes"] > 0]
    sizes = full.groupby(["xxh3", "bytes"])["path"].transform("size")
    truth_files = set(full.loc[sizes > 1, "path"])
    exact = dups[dups["kind"] == "exact"]
    key = dict(
        zip(manifest["path"], zip(manifest["xxh3"], manifest["bytes"], strict=True), strict=True)
    )
    same = [key[a] == key[b] for a, b in zip(exact["path_a"], exact["path_b"], strict=True)]
    found_files = set(exact["path_a"]) | set(exact["path_b"])
    return {
        "truth_files_in_groups": len(truth_files),
        "found_files_in_groups": len(found_files),
        "pairs_reported": len(exact),
        "pairs_correct": int(sum(same)),
        "precision": ratio(int(sum(same)), len(exact)),
        "recall": ratio(len(found_files & truth_files), len(truth_files)),
    }
