"""The reference implementation of per-file ground truth: the judge of every engine.

Plain and obviously correct rather than fast (but built on bytes methods, never a Python
loop over bytes). Every engine (CPU, GPU) must produce exactly these values:

- ``bytes``: ``len(data)``.
- ``xxh3``: xxh3-64 of the content as 16 lowercase hex digits.
- ``lines``: the number of ``\\n`` bytes (``wc -l``; a last line without ``\\n`` does not count).
- ``words``: maximal runs of bytes that are not ASCII whitespace (space, ``\\t``, ``\\n``,
  ``\\v``, ``\\f``, ``\\r``), as ``LC_ALL=C wc -w``. Every other byte, including NUL, DEL and
  every byte >= 0x80, is part of a word.
- ``non_ascii``: bytes >= 0x80.
- ``binary``: the content holds a NUL byte.
- ``type``: ``"binary"`` if ``binary``; else from the extension of the last path component
  (see :func:`file_type`); else ``"other"``.

Engines report the type as a code: the index into :data:`TYPES`.
"""

from __future__ import annotations

import xxhash

#: Type names; the index of a name is its type code.
TYPES = ("other", "python", "markdown", "json", "text", "log", "csv", "binary")

#: Extension (case-sensitive, with its dot) -> type name.
EXTENSIONS = {
    b".py": "python",
    b".md": "markdown",
    b".json": "json",
    b".txt": "text",
    b".log": "log",
    b".csv": "csv",
}

TYPE_CODES = {name: code for code, name in enumerate(TYPES)}

# bytes.translate(None, _ASCII) deletes every byte < 0x80, leaving the non-ASCII ones.
_ASCII = bytes(range(0x80))


def extension(rel_path: bytes) -> bytes:
    """The extension of the last path component, with its dot, or ``b""`` if none.

    The extension is the part from the last ``.`` of the basename. A basename whose only
    dot is its first character (``.gitignore``) has no extension; ``.config.json`` has
    ``.json``; ``name.`` has the extension ``.`` (which maps to no type).
    """
    base = rel_path.rpartition(b"/")[2]
    dot = base.rfind(b".")
    if dot <= 0:  # no dot, or only a leading one
        return b""
    return base[dot:]


def file_type(rel_path: bytes, binary: bool) -> str:
    """``"binary"`` if the content is binary, else the type of the extension, else ``"other"``."""
    if binary:
        return "binary"
    return EXTENSIONS.get(extension(rel_path), "other")


def truth(data: bytes, rel_path: bytes) -> dict:
    """Ground truth for one file's content ``data`` stored at ``rel_path``."""
    binary = b"\0" in data
    return {
        "bytes": len(data),
        "xxh3": xxhash.xxh3_64_hexdigest(data),
        "lines": data.count(b"\n"),
        # bytes.split() with no argument splits on exactly b" \t\n\v\f\r" (ASCII whitespace)
        "words": len(data.split()),
        "non_ascii": len(data.translate(None, _ASCII)),
        "binary": binary,
        "type": file_type(rel_path, binary),
    }
