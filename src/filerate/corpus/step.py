"""``filerate corpus``: generate (or sample) a corpus and its ground-truth manifest.

Output, in ``DIR`` (see docs/DATA.md)::

    DIR/files/             the tree
    DIR/manifest.parquet   one row of ground truth per file (filerate.reference), sorted by path_raw
    DIR/corpus.json        what was made, how long it took, and a digest of the manifest

Two sources:

- ``synthetic``: a deterministic project-like tree from ``seed`` (same settings give
  byte-identical files and manifest). Mostly Python, plus Markdown, JSON, text, logs, CSV,
  a few config files and binary files; lognormal sizes; empty files, non-ASCII UTF-8 text,
  planted exact duplicates (``dup_group``) and near-duplicates (``near_dup_group``).
- ``directory``: ``files`` regular files sampled with ``seed`` from a real tree (all of them
  if it has fewer), copied in with their relative paths. Symlinks are never followed;
  unreadable entries are skipped and listed.

A run first removes the old output in DIR (corpus.json and manifest.parquet first, so a
crash never leaves a complete-looking corpus), writes the tree into a temporary sibling
(``DIR/.files.partial-PID``) that is renamed to ``DIR/files`` when complete, and writes
the manifest and corpus.json atomically last.
"""

from __future__ import annotations

import argparse
import json
import os

from filerate import config as cfg
from filerate.corpus.build import generate
from filerate.errors import UserError
from filerate.units import MB


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "corpus",
        help="generate a synthetic corpus (or sample a real tree) and its ground-truth manifest",
        description=(
            "Make corpus CORPUS (an entry of the config's `corpora`) in DIR: DIR/files/ (the "
            "tree), DIR/manifest.parquet (ground truth per file: size, xxh3, lines, words, "
            "non-ASCII bytes, binary flag, type, planted duplicate groups; see docs/DATA.md) "
            "and DIR/corpus.json (counts, timing, manifest digest). A synthetic corpus is "
            "byte-identical for the same settings and seed; a directory corpus samples `files` "
            "regular files from `path` with `seed`, never following symlinks. Old output in "
            "DIR is replaced; a crash leaves no complete-looking corpus."
        ),
        epilog="example: filerate corpus --config config/config.yaml --name small "
        "--out results/corpus/small",
    )
    p.add_argument(
        "--config",
        default="config/config.yaml",
        metavar="FILE",
        help="YAML config (default: %(default)s)",
    )
    p.add_argument(
        "--settings",
        metavar="JSON",
        default=None,
        help="the corpus settings as JSON instead of reading them from --config "
        "(what the Snakemake rule passes, so config overrides reach this step)",
    )
    p.add_argument(
        "--name",
        required=True,
        metavar="CORPUS",
        help="which corpus of the config's `corpora` to make",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output directory (default: results/corpus/CORPUS)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="worker processes for synthetic generation (default: one per usable CPU, at "
        "most 8, for 5,000+ files); the output is identical for any N",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.settings:
        conf = {"corpora": {args.name: json.loads(args.settings)}}
    else:
        conf = cfg.load(args.config)
    if args.name not in conf["corpora"]:
        raise UserError(
            f"no corpus named {args.name!r} in {args.config}; "
            f"choose one of: {', '.join(conf['corpora'])}"
        )
    if args.processes is not None and args.processes < 1:
        raise UserError(f"--processes {args.processes}: must be >= 1")
    out = args.out or os.path.join("results", "corpus", args.name)
    rec = generate(args.name, conf["corpora"][args.name], out, processes=args.processes)
    print(
        f"corpus {rec['name']}: {rec['files']} files, {rec['bytes'] / MB:.1f} MB in "
        f"{rec['seconds']:.1f} s ({rec['files_per_s']:.0f} files/s) -> {out}"
    )
    return 0
