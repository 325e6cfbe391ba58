"""filerate.engine.textcount: the vector counter, judged by filerate.reference byte for byte
around its 64-byte blocks (whitespace and words across block edges, every byte value)."""

from __future__ import annotations

import numpy as np
import pytest

from filerate import reference
from filerate.engine import textcount

ALPHABET = np.frombuffer(b" \t\n\r\x0b\x0c\x00\x80\xffab.", dtype=np.uint8)


def _count(data: bytes, shift: int = 0) -> dict:
    """count_slot on ``data`` in a space-padded slot starting ``shift`` words into a buffer
    whose other bytes are garbage that must not leak into the counts."""
    start = 8 * shift
    room = (len(data) + 7) // 8 * 8
    buf = np.full(start + room + 128, 0x41, dtype=np.uint8)
    buf[start : start + room] = 0x20
    buf[start : start + len(data)] = np.frombuffer(data, dtype=np.uint8)
    out = np.zeros((4, 1), dtype=np.uint64)
    textcount.count_slot(buf, start, room, out, 0)
    nl, wc, na, nz = (int(x) for x in out[:, 0])
    return {"lines": nl, "words": wc, "non_ascii": na, "nul": nz}


def _truth(data: bytes) -> dict:
    t = reference.truth(data, b"x.txt")
    keys = ("lines", "words", "non_ascii")
    return {**{k: t[k] for k in keys}, "nul": data.count(0)}


@pytest.mark.parametrize("n", [0, 1, 7, 8, 63, 64, 65, 127, 128, 129, 191, 200, 1000])
def test_random_bytes_of_every_length_around_blocks(n):
    rng = np.random.default_rng(n)
    for shift in (0, 1, 3):
        for _ in range(20):
            data = rng.choice(ALPHABET, n).tobytes()
            assert _count(data, shift) == _truth(data), data


@pytest.mark.parametrize("edge", [63, 64, 127, 128])
def test_words_and_whitespace_across_a_block_edge(edge):
    for data in (
        b"a" * edge + b" b",  # a word ends at the edge, the next starts after it
        b" " * (edge - 1) + b"ab",  # a word starts on the last byte of a block
        b" " * edge + b"ab",  # ... on the first byte of the next
        b"x" * (edge + 40),  # one word across the edge
        b"\t" * edge + b"\n" * 9,
    ):
        assert _count(data) == _truth(data), data


def test_every_byte_value():
    data = bytes(range(256)) * 3
    assert _count(data) == _truth(data)
