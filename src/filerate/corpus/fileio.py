"""Whole-file reads and writes for building a corpus tree: plain system calls; a read opens
like every filerate reader (filerate.openflags: no symlink followed, no FIFO waited on) and a
write never overwrites an existing file."""

from __future__ import annotations

import os

from filerate.openflags import READ_FLAGS as _READ_FLAGS

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_file(path: bytes, data: bytes) -> None:
    fd = os.open(path, _WRITE_FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_file(path: bytes) -> bytes:
    fd = os.open(path, _READ_FLAGS)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)
