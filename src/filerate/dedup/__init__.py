"""Near-duplicate and exact-duplicate detection over a phase's ``full`` results.

shingles.py: the verification side (exact Jaccard of two files' shingle sets) and LSH band
keys; lsh.py: band keys -> candidate pairs with a Dask shuffle over the keys; find.py: exact
duplicates, candidates verified, groups, and the duplicates.parquet frame (docs/DATA.md).
"""
