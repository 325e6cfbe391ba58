"""Corpus step: deterministic synthetic corpora or a sample of a real tree, with the manifest
(ground truth per file, from filerate.reference)."""
