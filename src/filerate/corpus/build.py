"""Making one corpus in its folder: settings checked, the old output removed, the tree built
in a temporary sibling and renamed into place, then the manifest and corpus.json written
atomically, last."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd

from filerate import atomic
from filerate import config as cfg
from filerate.corpus.directory import generate_directory
from filerate.corpus.manifest import manifest_digest
from filerate.corpus.synthetic import generate_synthetic
from filerate.errors import ConfigError
from filerate.units import MB

# corpus.json first: a crash while clearing never leaves a complete-looking corpus
RECORD_FILES = ("corpus.json", "manifest.parquet")


def fill_settings(name: str, settings: dict) -> dict:
    """Validate one corpus's settings and fill the schema's defaults (raises ConfigError)."""
    conf = cfg.validate({"corpora": {name: dict(settings)}, "phases": {"p": {"corpus": name}}})
    return conf["corpora"][name]


def generate(
    name: str, settings: dict, out_dir: str | os.PathLike, processes: int | None = None
) -> dict:
    """Make corpus ``name`` in ``out_dir`` and return its corpus.json record.

    ``settings`` is one entry of the config's ``corpora`` (missing keys take the schema's
    defaults). ``processes`` (synthetic only) sets the worker processes; the output is
    identical for any value. Raises ``filerate.errors.ConfigError`` for bad settings.
    """
    start = time.perf_counter()
    settings = fill_settings(name, settings)
    out = Path(out_dir).absolute()
    if settings["source"] == "directory":
        _check_source_outside(name, settings["path"], out)
    out.mkdir(parents=True, exist_ok=True)
    _clear_old_output(out)
    tmp = out / f".files.partial-{os.getpid()}"
    tmp.mkdir()
    try:
        if settings["source"] == "synthetic":
            rows, extra = generate_synthetic(name, settings, tmp, processes)
        else:
            rows, extra = generate_directory(name, settings, tmp, out)
        frame = rows.frame()
        os.rename(tmp, out / "files")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic.write_parquet(out / "manifest.parquet", frame)
    record = _record(name, settings, frame, time.perf_counter() - start, extra)
    atomic.write_json(out / "corpus.json", record)
    return record


def _check_source_outside(name: str, path: str, out: Path) -> None:
    src = Path(path).resolve()
    if src == out.resolve() or out.resolve() in src.parents:
        raise ConfigError(
            f"config: corpora.{name}.path = {path!r} is "
            f"inside the output directory {out}; choose another --out"
        )


def _record(name: str, settings: dict, frame: pd.DataFrame, seconds: float, extra: dict) -> dict:
    """corpus.json: what was made, how long it took, and a digest of the manifest."""
    total = int(frame["bytes"].sum())
    return {
        "name": name,
        "source": settings["source"],
        "files": len(frame),
        "bytes": total,
        "seed": settings["seed"],
        "settings": settings,
        "seconds": round(seconds, 3),
        "files_per_s": round(len(frame) / seconds, 1),
        "mb_per_s": round(total / MB / seconds, 2),
        "manifest_digest": manifest_digest(frame),
        "types": {k: int(v) for k, v in frame["type"].value_counts().sort_index().items()},
        "empty_files": int((frame["bytes"] == 0).sum()),
        "non_ascii_files": int((frame["non_ascii"] > 0).sum()),
        "binary_files": int(frame["binary"].sum()),
        "created_at": time.time(),
        **extra,
    }


def _clear_old_output(out: Path) -> None:
    """Remove what a previous run (complete or crashed) left in ``out``; nothing else."""
    atomic.remove_outputs(out, RECORD_FILES)
    for entry in out.iterdir():
        if entry.name.startswith(".files."):
            _remove(entry)
    files = out / "files"
    if files.exists() or files.is_symlink():
        # renamed away first, so a crash mid-removal leaves no half tree named files/
        trash = out / f".files.old-{os.getpid()}"
        os.rename(files, trash)
        _remove(trash)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
