"""LSH: band keys -> candidate pairs, as a Dask shuffle over the keys.

Each (file, band, key) row goes to the partition its key hashes to (``shuffle``, which
runs the same on a multi-node cluster as on one machine); within a partition, files that
share a (band, key) bucket become candidate pairs; pairs found in several bands are
counted once. A file keeps at most ``MAX_PARTNERS`` candidates (its highest estimates),
so the pairs to verify grow linearly with the files even where many are alike.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from filerate.dedup.shingles import band_keys

#: a bucket with more files than this is cut (its pairs would be quadratic); counted
MAX_BUCKET = 200
#: candidates a file keeps, highest estimated Jaccard first; the others are counted
MAX_PARTNERS = 100
ROWS_PER_PARTITION = 250_000
_PAIR_META = {"a": np.int64, "b": np.int64}


def key_frame(sig: np.ndarray, files: np.ndarray, bands: int, rows: int) -> pd.DataFrame:
    """One row per (file, band): the file's manifest row, the band and its key."""
    keys = band_keys(sig[files], bands, rows)
    return pd.DataFrame(
        {
            "file": np.repeat(files.astype(np.int64), bands),
            "band": np.tile(np.arange(bands, dtype=np.int16), len(files)),
            "key": keys.ravel(),
        }
    )


def bucket_pairs(part: pd.DataFrame) -> pd.DataFrame:
    """Candidate pairs (a < b) of the buckets in one partition (vectorised per bucket size)."""
    shared = part[part.duplicated(["band", "key"], keep=False)]
    shared = shared.sort_values(["band", "key", "file"])
    files = shared["file"].to_numpy()
    new_bucket = np.ones(len(shared), dtype=bool)
    new_bucket[1:] = (shared["band"].to_numpy()[1:] != shared["band"].to_numpy()[:-1]) | (
        shared["key"].to_numpy()[1:] != shared["key"].to_numpy()[:-1]
    )
    starts = np.flatnonzero(new_bucket)
    sizes = np.minimum(np.diff(np.append(starts, len(shared))), MAX_BUCKET)
    a_parts, b_parts = [], []
    for size in np.unique(sizes):
        first = starts[sizes == size][:, None]  # buckets of this size, one per row
        ia, ib = np.triu_indices(int(size), k=1)
        a_parts.append(files[first + ia].ravel())
        b_parts.append(files[first + ib].ravel())
    if not a_parts:
        return pd.DataFrame({k: pd.Series(dtype=t) for k, t in _PAIR_META.items()})
    return pd.DataFrame({"a": np.concatenate(a_parts), "b": np.concatenate(b_parts)})


def candidate_pairs(
    client, sig: np.ndarray, files: np.ndarray, bands: int, rows: int
) -> tuple[pd.DataFrame, int]:
    """Distinct candidate pairs (a < b, manifest rows) among ``files``, computed on the
    cluster behind ``client`` (None: Dask's local scheduler); and the cut buckets."""
    import dask.dataframe as dd

    frame = key_frame(sig, files, bands, rows)
    nparts = max(2, len(frame) // ROWS_PER_PARTITION)  # 2+: a real exchange, even when small
    ddf = dd.from_pandas(frame, npartitions=nparts)
    shuffled = ddf.shuffle(on="key", npartitions=nparts)
    pairs = shuffled.map_partitions(bucket_pairs, meta=_PAIR_META).drop_duplicates()
    if client is not None:
        result = client.compute(pairs).result()
    else:
        result = pairs.compute(scheduler="threads")
    counts = frame.groupby(["band", "key"], sort=False).size()
    cut = int((counts > MAX_BUCKET).sum())
    return result.sort_values(["a", "b"]).reset_index(drop=True), cut


@numba.njit(nogil=True, boundscheck=False, cache=True)
def estimated_jaccard(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal MinHash values of each pair (a[q], b[q]) of signature rows (no
    pairs x hashes temporaries)."""
    out = np.zeros(a.shape[0], dtype=np.float64)
    for q in range(a.shape[0]):
        same = 0
        for h in range(sig.shape[1]):
            same += sig[a[q], h] == sig[b[q], h]
        out[q] = same / sig.shape[1]
    return out


def within_partner_cap(a: np.ndarray, b: np.ndarray, estimated: np.ndarray, limit: int):
    """Which pairs to keep: each file ranks its pairs by estimate (highest first; ties by
    rows) and a pair is kept while it ranks below ``limit`` for both of its files."""
    order = np.lexsort((b, a, -estimated))
    ends = np.stack([a[order], b[order]], axis=1).ravel()  # both files of each pair, in rank
    by_file = np.argsort(ends, kind="stable")
    sorted_ends = ends[by_file]
    rank = np.empty(len(ends), dtype=np.int64)
    rank[by_file] = np.arange(len(ends)) - np.searchsorted(sorted_ends, sorted_ends, "left")
    keep = np.zeros(len(a), dtype=bool)
    keep[order] = rank.reshape(-1, 2).max(axis=1) < limit
    return keep
