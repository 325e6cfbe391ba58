"""The corpus-wide duplicate step of a ``full`` phase: exact duplicates from equal hash and
size, near-duplicates from LSH candidates verified by their exact shingle Jaccard, groups,
and the duplicates.parquet frame (columns in docs/DATA.md).

Runs after the timed repeats, on the phase's cluster; its seconds are reported apart
(run.json ``dedup``), never mixed into files/s.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from filerate.dedup import lsh
from filerate.dedup.shingles import jaccard, shingle_set

MAX_CACHED_FILES = 1024  # shingle sets a verification task keeps
VERIFY_CHUNK = 5_000  # candidate pairs per verification task
#: a candidate whose estimate is this far below the threshold is not verified: with 128
#: hashes the estimate's standard error at J = 0.8 is 0.035, so 0.15 is over 4 of them
ESTIMATE_MARGIN = 0.15
KINDS = ("exact", "near", "below_threshold")
COLUMNS = (
    "path_a",
    "path_b",
    "kind",
    "estimated_jaccard",
    "verified_jaccard",
    "group",
)


def exact_groups(xxh3: np.ndarray, size: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per file: the smallest row of the eligible files sharing its hash and size (-1:
    not eligible); a file whose value is its own row and shared by none is unique."""
    out = np.full(len(xxh3), -1, dtype=np.int64)
    rows = np.flatnonzero(eligible)
    frame = pd.DataFrame({"h": xxh3[rows], "s": size[rows], "row": rows})
    out[rows] = frame.groupby(["h", "s"], sort=False)["row"].transform("min").to_numpy()
    return out


def verify_pairs(pairs: pd.DataFrame, data_dir: str, path_raw, k: int) -> np.ndarray:
    """Exact Jaccard of each pair's shingle sets, reading the two files (off the timed path:
    only candidates reach this)."""
    cache: dict[int, np.ndarray] = {}

    def shingles(row: int) -> np.ndarray:
        if row not in cache:
            if len(cache) >= MAX_CACHED_FILES:  # bounded memory: pairs are sorted by a
                cache.clear()
            with open(os.path.join(os.fsencode(data_dir), path_raw[row]), "rb") as fh:
                cache[row] = shingle_set(fh.read(), k)
        return cache[row]

    return np.array(
        [jaccard(shingles(a), shingles(b)) for a, b in zip(pairs["a"], pairs["b"], strict=True)],
        dtype=np.float64,
    )


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member row) of each of n nodes over edges a-b."""
    label = np.arange(n, dtype=np.int64)
    while True:
        low = np.minimum(label[a], label[b])
        before = label.copy()
        np.minimum.at(label, a, low)
        np.minimum.at(label, b, low)
        label = label[label]  # pointer jumping
        if np.array_equal(label, before):
            return label


def _verify_on_cluster(client, pairs: pd.DataFrame, data_dir: str, path_raw, k: int):
    """verify_pairs over chunks of pairs, as cluster tasks when there is a client."""
    if client is None or len(pairs) == 0:
        return verify_pairs(pairs, data_dir, path_raw, k)
    step = VERIFY_CHUNK  # pairs come sorted by their first file: its shingles are reused
    chunks = [pairs.iloc[i : i + step] for i in range(0, len(pairs), step)]
    futures = []
    for chunk in chunks:
        rows = np.union1d(chunk["a"], chunk["b"])
        paths = {int(r): path_raw[r] for r in rows}  # only the paths this chunk reads
        futures.append(client.submit(verify_pairs, chunk, data_dir, paths, k, pure=False))
    return np.concatenate(client.gather(futures))


def find_duplicates(client, results, manifest: pd.DataFrame, params: dict, data_dir: str):
    """(duplicates.parquet frame, run.json ``dedup`` record) of one repeat's results."""
    t0 = time.perf_counter()
    sig, size = results.signature, results.bytes
    eligible = results.ok() & (size > 0)
    exact = exact_groups(results.hash, size, eligible)
    members = np.flatnonzero(eligible & (exact != np.arange(len(exact))))
    representatives = np.flatnonzero(eligible & (exact == np.arange(len(exact))))
    t1 = time.perf_counter()
    cand, cut = lsh.candidate_pairs(client, sig, representatives, params["bands"], params["rows"])
    t2 = time.perf_counter()
    estimated = (sig[cand["a"]] == sig[cand["b"]]).mean(axis=1) if len(cand) else np.zeros(0)
    check = estimated >= params["threshold"] - ESTIMATE_MARGIN
    verified = np.full(len(cand), np.nan)
    verified[check] = _verify_on_cluster(
        client, cand[check], data_dir, manifest["path_raw"].tolist(), params["shingle_bytes"]
    )
    t3 = time.perf_counter()
    near = verified >= params["threshold"]  # NaN (not verified) is never a near pair
    a = np.concatenate([exact[members], cand["a"].to_numpy()]).astype(np.int64)
    b = np.concatenate([members, cand["b"].to_numpy()]).astype(np.int64)
    kinds = np.array(["exact"] * len(members) + np.where(near, "near", KINDS[2]).tolist())
    linked = np.concatenate([np.ones(len(members), bool), near])
    label = components(len(size), a[linked], b[linked])
    group = np.full(len(a), -1, dtype=np.int64)  # -1: a candidate below the threshold
    if linked.any():
        group[linked] = np.unique(label[a[linked]], return_inverse=True)[1]
    frame = pd.DataFrame(
        {
            "path_a": manifest["path"].to_numpy()[a],
            "path_b": manifest["path"].to_numpy()[b],
            "kind": kinds,
            "estimated_jaccard": (sig[a] == sig[b]).mean(axis=1) if len(a) else [],
            "verified_jaccard": np.concatenate([np.ones(len(members)), verified]),
            "group": group.astype(np.int64),
        },
        columns=list(COLUMNS),
    )
    record = {
        "files_considered": int(eligible.sum()),
        "exact_duplicate_files": len(members),
        "exact_groups": int(len(np.unique(exact[members]))),
        "candidate_pairs": len(cand),
        "verified_pairs": int(check.sum()),
        "near_pairs": int(near.sum()),
        "below_threshold_pairs": int((~near).sum()),
        "groups": int(group.max() + 1) if len(group) else 0,
        "buckets_cut": cut,
        "max_bucket": lsh.MAX_BUCKET,
        "exact_s": t1 - t0,
        "lsh_s": t2 - t1,
        "verify_s": t3 - t2,
        "total_s": time.perf_counter() - t0,
    }
    return frame, record
