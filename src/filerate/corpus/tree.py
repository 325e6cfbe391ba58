"""``filerate reference``: the ground truth of a user's own tree, measured where it is.

One reference pass walks the tree (never following a symlink), reads every regular file
with the plain reference implementation (:mod:`filerate.reference`) and writes
``OUT/manifest.parquet`` and ``OUT/corpus.json``. Nothing is written inside the tree.

Besides the truth, each row keeps the file's identity as the pass saw it (``dev``,
``ino``, ``mtime_ns``, ``ctime_ns``): a timed repeat that reads different content from
a file whose identity changed since then records that file as an error ("changed since
reference pass"), never as a wrong number (:func:`changed_rows`). A file the pass cannot
read stays in the manifest with its ``reference_error``, so the readers account for it
too. Symlinks, FIFOs, sockets and devices are skipped and listed in corpus.json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import stat
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from filerate import atomic, reference
from filerate.corpus import manifest as truth_rows
from filerate.corpus.directory import walk_files
from filerate.errors import UserError
from filerate.openflags import READ_FLAGS

IDENTITY = ("dev", "ino", "mtime_ns", "ctime_ns")
CHUNK = 2000
#: files larger than this get no reference content (the readers record "too large")
DEFAULT_MAX_BYTES = 268435456


def walk(root: bytes) -> tuple[list[bytes], dict]:
    """Regular files under ``root`` (relative, sorted by bytes) and what was skipped; a
    root that cannot be listed stops here with one line naming it."""
    try:
        os.scandir(root).close()
    except OSError as exc:
        raise UserError(
            f"cannot read the tree {os.fsdecode(root)}: {exc.strerror}: "
            "give a directory you can list"
        ) from None
    files, symlinks, skipped = walk_files(root)
    return files, {"symlinks_skipped": symlinks, "skipped": sorted(skipped)}


def _read(root: bytes, rel: bytes, max_bytes: int) -> tuple[bytes | None, os.stat_result, str]:
    fd = os.open(root + b"/" + rel, READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, st, "not a regular file"
        if st.st_size > max_bytes:
            return None, st, f"too large: {st.st_size} bytes > max_file_bytes {max_bytes}"
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), st, ""
    finally:
        os.close(fd)


def _row(root: bytes, rel: bytes, max_bytes: int) -> dict:
    row = {"path": truth_rows.display_path(rel), "path_raw": rel}
    try:
        data, st, problem = _read(root, rel, max_bytes)
    except OSError as exc:
        return {**row, "bytes": 0, "reference_error": f"cannot read: {exc.strerror or exc}"}
    row.update(dev=st.st_dev, ino=st.st_ino, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
    if data is None:
        return {**row, "bytes": st.st_size, "reference_error": problem}
    return {**row, **reference.truth(data, rel), "reference_error": None}


def _chunk(task: tuple[bytes, list[bytes], int]) -> list[dict]:
    root, rels, max_bytes = task
    return [_row(root, rel, max_bytes) for rel in rels]


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("xxh3", "type", "reference_error"):
        if col not in frame:
            frame[col] = None
    for col in ("lines", "words", "non_ascii", *IDENTITY):
        frame[col] = frame[col].fillna(-1).astype(np.int64) if col in frame else -1
    frame["bytes"] = frame["bytes"].astype(np.int64)
    frame["binary"] = frame["binary"].fillna(False).astype(bool) if "binary" in frame else False
    frame["dup_group"] = -1
    frame["near_dup_group"] = -1
    cols = [*truth_rows.MANIFEST_COLUMNS, *IDENTITY, "reference_error"]
    return frame[cols].sort_values("path_raw", kind="stable").reset_index(drop=True)


def reference_pass(
    tree: str | os.PathLike,
    out: str | os.PathLike,
    processes: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict:
    """Walk and read ``tree`` once; write OUT/manifest.parquet and OUT/corpus.json."""
    t0 = time.perf_counter()
    root = os.fsencode(os.path.abspath(tree))
    if not os.path.isdir(root):
        raise UserError(f"the tree {os.fsdecode(root)} is not a directory: give an existing one")
    out = Path(out).absolute()
    if out == Path(os.fsdecode(root)) or Path(os.fsdecode(root)) in out.parents:
        raise UserError(f"--out {out} is inside the tree: nothing may be written in the tree")
    files, skipped = walk(root)
    walk_s = time.perf_counter() - t0
    if not files:
        raise UserError(f"the tree {os.fsdecode(root)} holds no regular files")
    tasks = [(root, files[i : i + CHUNK], max_bytes) for i in range(0, len(files), CHUNK)]
    processes = max(1, min(processes or os.cpu_count() or 1, len(tasks)))
    if processes == 1 or "fork" not in multiprocessing.get_all_start_methods():
        parts = list(map(_chunk, tasks))
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_chunk, tasks)
    frame = _frame([row for part in parts for row in part])
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.json").unlink(missing_ok=True)  # no complete-looking leftover
    atomic.write_parquet(out / "manifest.parquet", frame)
    seconds = time.perf_counter() - t0
    record = _record(root, frame, skipped, seconds, walk_s, processes)
    atomic.write_json(out / "corpus.json", record)
    return record


def _record(root, frame, skipped, seconds, walk_s, processes) -> dict:
    total = int(frame["bytes"].sum())
    errors = frame["reference_error"].notna()
    return {
        "name": "tree",
        "source": "tree",
        "source_path": os.fsdecode(root),
        "files": len(frame),
        "bytes": total,
        "seconds": round(seconds, 3),
        "walk_s": round(walk_s, 3),
        "files_per_s": round(len(frame) / seconds, 1) if seconds else 0.0,
        "mb_per_s": round(total / 1e6 / seconds, 2) if seconds else 0.0,
        "processes": processes,
        "manifest_digest": truth_rows.manifest_digest(frame.fillna({"xxh3": ""})),
        "types": {k: int(v) for k, v in frame["type"].value_counts().sort_index().items()},
        "binary_files": int(frame["binary"].sum()),
        "reference_errors": int(errors.sum()),
        "reference_error_examples": [
            {"path": p, "error": e}
            for p, e in frame.loc[errors, ["path", "reference_error"]]
            .head(20)
            .itertuples(index=False)
        ],
        "symlinks_skipped": skipped["symlinks_skipped"],
        "skipped_count": len(skipped["skipped"]),
        "skipped": [
            {"path": truth_rows.display_path(p), "reason": r} for p, r in skipped["skipped"][:100]
        ],
        "created_at": time.time(),
    }


def changed_rows(manifest: pd.DataFrame, data_dir: str, rows) -> dict[int, str]:
    """Of manifest ``rows`` (whose content differed from the truth), those whose identity
    changed since the reference pass (or that vanished), with what changed. Slow path: it
    runs only for the rare files that did not match."""
    if "mtime_ns" not in manifest:
        return {}
    root = os.fsencode(data_dir)
    out = {}
    for i in rows:
        i = int(i)
        rel = manifest["path_raw"].iat[i]
        try:
            st = os.stat(root + b"/" + rel, follow_symlinks=False)
        except OSError as exc:
            out[i] = exc.strerror or str(exc)
            continue
        now = {
            "dev": st.st_dev,
            "ino": st.st_ino,
            "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns,
        }
        diff = [k for k in IDENTITY if int(manifest[k].iat[i]) != now[k]]
        if diff or int(manifest["bytes"].iat[i]) != st.st_size:
            what = ", ".join(diff) or "size"
            out[i] = f"{what} differ"
    return out


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reference",
        help="one reference pass over a user's own tree: its ground-truth manifest",
        description=(
            "Walk TREE (never following symlinks), read every regular file once with the "
            "reference implementation and write OUT/manifest.parquet and OUT/corpus.json. "
            "Nothing is written inside TREE; the readers then read TREE in place."
        ),
    )
    p.add_argument("--tree", required=True, help="the directory tree to measure")
    p.add_argument("--out", required=True, help="where the manifest goes (outside the tree)")
    p.add_argument("--processes", type=int, default=None, help="reader processes")
    p.add_argument("--max-file-bytes", type=int, default=DEFAULT_MAX_BYTES)
    p.set_defaults(func=run)


def run(args) -> int:
    rec = reference_pass(args.tree, args.out, args.processes, args.max_file_bytes)
    print(
        f"tree {rec['source_path']}: {rec['files']} files, {rec['bytes'] / 1e6:.1f} MB, "
        f"reference pass {rec['seconds']:.1f} s; {rec['symlinks_skipped']} symlinks and "
        f"{rec['skipped_count']} other entries skipped, {rec['reference_errors']} unreadable",
        file=sys.stderr,
    )
    return 0
