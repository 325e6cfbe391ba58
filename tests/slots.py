"""Test helper: files laid out in one buffer exactly as the batch reader lays them out."""

from __future__ import annotations

import numpy as np

from filerate.engine import batchio


def layout(datas: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buffer, offsets, sizes): 8-byte aligned slots padded with spaces."""
    sizes = np.array([len(d) for d in datas], dtype=np.int64)
    offsets, total = batchio.slot_layout(sizes, np.zeros(len(sizes), bool))
    buf = np.full(total, 32, dtype=np.uint8)
    for off, d in zip(offsets, datas, strict=True):
        buf[off : off + len(d)] = np.frombuffer(d, dtype=np.uint8)
    return buf, offsets, sizes
