"""Where numba keeps the compiled loops on disk: a folder keyed by filerate's own source.

numba throws a cached loop away only when the loop's own file changes, but the loops
freeze constants from other modules (FileStatus, TYPE_CODES, the open flags) and inline
functions from others (latency, libc). Keying the folder by a digest of every filerate
source file (and numba's version) means any change anywhere in filerate starts from an
empty cache: never stale machine code. Imported by filerate.engine and filerate.dedup
before any kernel is defined; NUMBA_CACHE_DIR, where set, is the root used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numba

PACKAGE = Path(__file__).resolve().parent


def source_digest(package: Path = PACKAGE) -> str:
    """16 hex digits over every .py file under ``package`` (names and bytes) and numba."""
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _usable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def configure() -> str:
    """Point numba at this source's cache folder; '' if none is writable (numba then
    falls back to its own places)."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    roots = (
        [Path(root)]
        if root
        else [
            PACKAGE / "__pycache__" / "kernels",
            Path(tempfile.gettempdir()) / f"filerate-kernels-{os.getuid()}",
        ]
    )
    digest = source_digest()
    for base in roots:
        folder = base / digest
        if _usable(folder):
            numba.config.CACHE_DIR = str(folder)
            return str(folder)
    return ""


CACHE_DIR = configure()
