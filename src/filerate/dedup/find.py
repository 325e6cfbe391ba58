"""The corpus-wide duplicate step of a ``full`` phase: exact duplicates from equal hash and
size, near-duplicates from LSH candidates verified by their exact shingle Jaccard, groups,
and the duplicates.parquet frame (columns in docs/DATA.md).

Runs after the timed repeats, on the phase's cluster; its seconds are reported apart
(run.json ``dedup``), never mixed into files/s.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from filerate.dedup import lsh, verify

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


def _candidates(client, sig: np.ndarray, files: np.ndarray, params: dict):
    """(a, b, estimated Jaccard) of the LSH candidate pairs among ``files`` that the partner
    cap keeps (sorted by a, b), and their part of the run.json ``dedup`` record."""
    cand, cut = lsh.candidate_pairs(client, sig, files, params["bands"], params["rows"])
    a, b = cand["a"].to_numpy(np.int64), cand["b"].to_numpy(np.int64)
    estimated = lsh.estimated_jaccard(sig, a, b)
    keep = lsh.within_partner_cap(a, b, estimated, lsh.MAX_PARTNERS)
    record = {
        "candidate_pairs": len(a),
        "pairs_over_partner_cap": int((~keep).sum()),
        "max_partners": lsh.MAX_PARTNERS,
        "buckets_cut": cut,
        "max_bucket": lsh.MAX_BUCKET,
    }
    return a[keep], b[keep], estimated[keep], record


def _pairs_frame(manifest, sig, exact, members, cand, verified, near) -> pd.DataFrame:
    """duplicates.parquet: the exact pairs, then the kept candidates (docs/DATA.md)."""
    a = np.concatenate([exact[members], cand[0]]).astype(np.int64)
    b = np.concatenate([members, cand[1]]).astype(np.int64)
    kinds = np.concatenate([np.repeat(KINDS[0], len(members)), np.where(near, *KINDS[1:])])
    linked = np.concatenate([np.ones(len(members), bool), near])
    label = components(len(sig), a[linked], b[linked])
    group = np.full(len(a), -1, dtype=np.int64)  # -1: a candidate below the threshold
    if linked.any():
        group[linked] = np.unique(label[a[linked]], return_inverse=True)[1]
    paths = manifest["path"].to_numpy()
    return pd.DataFrame(
        {
            "path_a": paths[a],
            "path_b": paths[b],
            "kind": kinds,
            "estimated_jaccard": lsh.estimated_jaccard(sig, a, b),
            "verified_jaccard": np.concatenate([np.ones(len(members)), verified]),
            "group": group,
        },
        columns=list(COLUMNS),
    )


def find_duplicates(client, results, manifest: pd.DataFrame, params: dict, data_dir: str):
    """(duplicates.parquet frame, run.json ``dedup`` record) of one repeat's results."""
    t0 = time.perf_counter()
    sig, size = np.ascontiguousarray(results.signature), results.bytes
    eligible = results.ok() & (size > 0)
    exact = exact_groups(results.hash, size, eligible)
    members = np.flatnonzero(eligible & (exact != np.arange(len(exact))))
    representatives = np.flatnonzero(eligible & (exact == np.arange(len(exact))))
    t1 = time.perf_counter()
    a, b, estimated, cand_record = _candidates(client, sig, representatives, params)
    t2 = time.perf_counter()
    check = estimated >= params["threshold"] - ESTIMATE_MARGIN
    verified = np.full(len(a), np.nan)
    path_raw = manifest["path_raw"].to_numpy()
    k = params["shingle_bytes"]
    verified[check] = verify.verify(client, a[check], b[check], size, path_raw, data_dir, k)
    t3 = time.perf_counter()
    near = verified >= params["threshold"]  # NaN (not verified) is never a near pair
    frame = _pairs_frame(manifest, sig, exact, members, (a, b), verified, near)
    group = frame["group"].to_numpy()
    record = {
        "files_considered": int(eligible.sum()),
        "exact_duplicate_files": len(members),
        "exact_groups": int(len(np.unique(exact[members]))),
        **cand_record,
        "verified_pairs": int(check.sum()),
        "near_pairs": int(near.sum()),
        "below_threshold_pairs": int((~near).sum()),
        "groups": int(group.max() + 1) if len(group) else 0,
        "exact_s": t1 - t0,
        "lsh_s": t2 - t1,
        "verify_s": t3 - t2,
        "total_s": time.perf_counter() - t0,
    }
    return frame, record
