"""A corpus sampled from a real tree: ``files`` regular files chosen with ``seed`` (all of
them if the tree has fewer), copied with their relative paths. Symlinks are never followed;
unreadable entries are skipped and listed with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from filerate.corpus.fileio import read_file, write_file
from filerate.corpus.manifest import Rows, display_path
from filerate.corpus.progress import Progress
from filerate.errors import ConfigError

SKIPPED_LIST_MAX = 100  # corpus.json lists this many skipped entries (and counts them all)


def generate_directory(name: str, settings: dict, tmp: Path, out: Path) -> tuple:
    """Copy the sample of corpus ``name`` into ``tmp``: (Rows, corpus.json extras). The
    walk skips ``out`` and ``tmp`` should they lie inside the source tree."""
    src = os.fsencode(os.path.abspath(settings["path"]))
    if not os.path.isdir(src):
        raise ConfigError(
            f"config: corpora.{name}.path = {settings['path']!r}: must be an existing directory"
        )
    exclude = {(st.st_dev, st.st_ino) for st in (os.stat(out), os.stat(tmp))}
    candidates, symlinks, skipped = walk_files(src, exclude)
    want = int(settings["files"])
    rng = np.random.Generator(np.random.PCG64(int(settings["seed"])))
    order = rng.permutation(len(candidates)) if candidates else np.zeros(0, dtype=np.int64)
    progress = Progress(name, min(want, len(candidates)), " copied")
    sampled = (candidates[int(k)] for k in order)
    rows, unreadable = _copy_sample(src, os.fsencode(tmp), sampled, want, skipped, progress)
    if not len(rows):
        raise ConfigError(
            f"config: corpora.{name}.path = {settings['path']!r}: holds no readable regular files"
        )
    skipped.sort()
    extra = {
        "source_path": settings["path"],
        "requested_files": want,
        "candidates": len(candidates),
        # every readable regular file of the tree is in the corpus (none left out by sampling)
        "all_files_used": len(rows) + unreadable == len(candidates),
        "symlinks_skipped": symlinks,
        "skipped_count": len(skipped),
        "skipped": [{"path": display_path(p), "reason": r} for p, r in skipped[:SKIPPED_LIST_MAX]],
    }
    if len(rows) < want:
        extra["note"] = (
            f"the tree has only {len(rows)} readable regular files "
            f"(fewer than the {want} requested): all of them are used"
        )
    return rows, extra


def _copy_sample(
    src: bytes, root: bytes, sampled: Iterable[bytes], want: int, skipped: list, progress: Progress
) -> tuple[Rows, int]:
    """Copy files from ``sampled`` (relative paths, in sample order) until ``want`` are in;
    an unreadable one is added to ``skipped`` and the next takes its place.
    Returns (Rows, number unreadable)."""
    rows = Rows()
    made_dirs = {b""}
    unreadable = 0
    for rel in sampled:
        if len(rows) >= want:
            break
        try:
            data = read_file(src + b"/" + rel)
        except OSError as exc:
            skipped.append((rel, f"cannot read: {exc.strerror or exc}"))
            unreadable += 1
            continue
        parent = rel.rpartition(b"/")[0]
        if parent not in made_dirs:
            os.makedirs(root + b"/" + parent, exist_ok=True)
            made_dirs.add(parent)
        write_file(root + b"/" + rel, data)
        rows.add(rel, data)
        progress.update(len(rows))
    return rows, unreadable


def _identity(entry: os.DirEntry) -> tuple[int, int]:
    st = entry.stat(follow_symlinks=False)
    return st.st_dev, st.st_ino


def walk_files(
    root: bytes, exclude: set | frozenset = frozenset()
) -> tuple[list[bytes], int, list[tuple[bytes, str]]]:
    """Regular files under ``root`` (relative, sorted by bytes), symlinks seen (never
    followed), and what was skipped with why; directories whose (dev, ino) is in
    ``exclude`` are not entered (the corpus's own output inside the tree)."""
    files: list[bytes] = []
    skipped: list[tuple[bytes, str]] = []
    symlinks = 0
    stack = [b""]
    while stack:
        rel_dir = stack.pop()
        try:
            it = os.scandir(root + b"/" + rel_dir if rel_dir else root)
        except OSError as exc:
            skipped.append((rel_dir or b".", f"cannot list directory: {exc.strerror}"))
            continue
        with it:
            for entry in it:
                rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
                try:
                    if entry.is_symlink():
                        symlinks += 1
                    elif entry.is_dir(follow_symlinks=False):
                        if not exclude or _identity(entry) not in exclude:
                            stack.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        files.append(rel)
                    else:
                        skipped.append((rel, "not a regular file"))
                except OSError as exc:
                    skipped.append((rel, exc.strerror or str(exc)))
    files.sort()
    return files, symlinks, skipped
