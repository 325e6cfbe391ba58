"""Near-duplicate and exact-duplicate detection over a phase's ``full`` results.

shingles.py: shingle sets (one file, or a batch in compiled loops) and LSH band keys;
lsh.py: band keys -> candidate pairs with a Dask shuffle over the keys, their estimates
and the per-file cap; verify.py: the candidates' exact Jaccard, tile by tile; find.py:
exact duplicates, candidates verified, groups, and the duplicates.parquet frame
(docs/DATA.md).
"""

from filerate import kernelcache  # noqa: F401  (before any kernel: the cache folder)
