"""Verifying candidate pairs: the exact Jaccard of each pair's sets of shingle hashes, in
tiles of bounded memory, each file's set made once per tile in one compiled pass and every
pair of the tile counted in one compiled loop (no per-pair Python).

The candidate files are put in breadth-first order over the pair graph (so a pair's two
files sit close in the order, as in Cuthill-McKee) and cut into blocks of about
``BLOCK_BYTES`` of file data; the pairs between blocks i and j (i <= j) are one tile: one
cluster task that reads only the files its pairs name (at most two blocks). A file is read
and shingled once per tile it appears in, not once per pair.
"""

from __future__ import annotations

import os

import numba
import numpy as np

from filerate.dedup.shingles import common_counts, shingle_sets

#: file bytes per block: a tile's task holds at most two blocks, and up to 4 bytes of
#: shingle hashes per byte of file (fewer: only distinct ones are kept)
BLOCK_BYTES = 64 * 10**6


@numba.njit(nogil=True, boundscheck=False, cache=True)
def _breadth_first(first, neighbours):
    """Nodes in breadth-first order over a graph in CSR form (``neighbours[first[v]:
    first[v + 1]]``), each component from its lowest node."""
    n = first.shape[0] - 1
    order = np.empty(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    head = tail = 0
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = True
        order[tail] = root
        tail += 1
        while head < tail:
            v = order[head]
            head += 1
            for e in range(first[v], first[v + 1]):
                w = neighbours[e]
                if not seen[w]:
                    seen[w] = True
                    order[tail] = w
                    tail += 1
    return order


def file_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct files of the pairs (a[q], b[q]), breadth-first over the pairs."""
    files, local = np.unique(np.concatenate([a, b]), return_inverse=True)
    source, target = local, np.roll(local, len(a))  # each pair in both directions
    by_source = np.argsort(source, kind="stable")
    first = np.searchsorted(source[by_source], np.arange(len(files) + 1))
    return files[_breadth_first(first, target[by_source])]


def plan_tiles(a: np.ndarray, b: np.ndarray, size: np.ndarray, block_bytes: int) -> list:
    """Indices into the pairs (a[q], b[q]) (manifest rows), one array per tile."""
    if len(a) == 0:
        return []
    order = file_order(a, b)
    before = np.cumsum(size[order]) - size[order]  # bytes of the files ahead in the order
    block = np.zeros(len(size), dtype=np.int64)
    block[order] = before // max(1, block_bytes)
    low, high = np.minimum(block[a], block[b]), np.maximum(block[a], block[b])
    key = low * (int(block.max()) + 1) + high
    by_tile = np.argsort(key, kind="stable")
    return np.split(by_tile, np.flatnonzero(np.diff(key[by_tile])) + 1)


def read_files(data_dir: str, paths: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buffer, offsets, lengths) of the files at ``paths`` (raw bytes, under data_dir)."""
    root = os.fsencode(data_dir)
    datas = []
    for raw in paths:  # one open per distinct file of a tile: the reads themselves
        with open(os.path.join(root, os.fsencode(raw)), "rb") as fh:
            datas.append(fh.read())
    lengths = np.fromiter((len(d) for d in datas), dtype=np.int64, count=len(datas))
    offsets = np.cumsum(lengths) - lengths
    buf = np.frombuffer(b"".join(datas) or b"\0", dtype=np.uint8)
    return buf, offsets, lengths


def verify_tile(paths: list, a: np.ndarray, b: np.ndarray, data_dir: str, k: int) -> np.ndarray:
    """Exact Jaccard of each pair (paths[a[q]], paths[b[q]]) of one tile (1.0 when both
    files have no shingles, as ``shingles.jaccard``)."""
    values, starts, counts = shingle_sets(*read_files(data_dir, paths), k)
    common = common_counts(values, starts, counts, a, b)
    union = counts[a] + counts[b] - common
    return np.divide(common, union, out=np.ones(len(a)), where=union > 0)


def verify(client, a, b, size, path_raw, data_dir: str, k: int) -> np.ndarray:
    """Exact Jaccard of each pair (a[q], b[q]) of manifest rows, tile by tile: as cluster
    tasks behind ``client``, or here when it is None. ``path_raw``: the manifest's, as an
    array indexable by row."""
    out = np.full(len(a), np.nan)
    tiles = plan_tiles(a, b, size, BLOCK_BYTES)
    jobs = []
    for idx in tiles:  # one task per tile (a handful), never per pair
        files, local = np.unique(np.concatenate([a[idx], b[idx]]), return_inverse=True)
        args = (path_raw[files].tolist(), local[: len(idx)], local[len(idx) :], data_dir, k)
        if client is None:
            jobs.append(verify_tile(*args))
        else:
            jobs.append(client.submit(verify_tile, *args, pure=False))
    done = jobs if client is None else client.gather(jobs)
    for idx, jaccard in zip(tiles, done, strict=True):
        out[idx] = jaccard
    return out
