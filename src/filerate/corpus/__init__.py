"""Corpus step: deterministic synthetic corpora or a sample of a real tree, with the manifest
(ground truth per file, from filerate.reference).

    from filerate import corpus
    record = corpus.generate("small", {"files": 1000, "seed": 1}, "results/corpus/small")

Modules, in the order a corpus is made:

- ``step``        the ``filerate corpus`` sub-command (``add_parser``, ``run``)
- ``build``       ``generate``: one corpus in its folder, old output replaced, written atomically
- ``synthetic``   the seeded plan of a synthetic corpus and writing its tree
- ``content``     per-type content generators, pools, near-duplicate edits
- ``vocabulary``  word lists and the seeded ``Picker``
- ``directory``   sampling a real tree
- ``manifest``    manifest rows, ``display_path``, ``manifest_digest``
- ``fileio``, ``progress``: whole-file reads/writes, the progress line
"""

from filerate.corpus.build import fill_settings, generate
from filerate.corpus.manifest import MANIFEST_COLUMNS, display_path, manifest_digest

__all__ = ["MANIFEST_COLUMNS", "display_path", "fill_settings", "generate", "manifest_digest"]
