"""Atomic output: write to a temporary file beside the target, fsync, then rename.

A reader (or a rerun after a crash) therefore sees either the old file or the complete
new one, never a half-written parquet or JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it is renamed onto ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should be like any file
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def remove_outputs(folder: str | os.PathLike, names) -> None:
    """Remove an earlier run's outputs ``names`` in ``folder``, in the order given (put the
    file that marks a run complete first), and the temporary files a killed atomic write
    left beside them, so an interrupted rerun never shows old and new outputs side by side."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for name in names:
        (folder / name).unlink(missing_ok=True)
    for name in names:
        for tmp in folder.glob(f".{name}.*.tmp"):  # atomic_path's temporary names
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: str | os.PathLike, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_parquet(target: str | os.PathLike, frame) -> None:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths in JSON output."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
