"""Large batch buffers, reused across the tasks and threads of a worker process.

Allocating (and first touching) a 100 MB buffer per task costs page faults and zeroing
that would be timed as reading; pinned host memory is slower still to allocate. A pool
keeps at most as many buffers as tasks ran at once in the process.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import numpy as np

_ROUND = 1 << 20  # allocate in whole MiB so slightly larger batches reuse a buffer
PAGE = 4096


def aligned_empty(nbytes: int, align: int = PAGE) -> np.ndarray:
    """An uninitialised byte buffer whose first byte is ``align``-aligned.

    Why: the kernel copies a read's bytes from the page cache, where a file starts at
    page offset 0, with ``rep movsb``; when the destination's page offset is 1-31 bytes
    (4K aliasing with the source), the copy ran at about half speed on this project's
    AMD EPYC VM (docs/PERFORMANCE.md). glibc hands out large buffers at page offset 16,
    exactly in that window, so a plain np.empty cost a third of the read rate.
    """
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + nbytes]


class BufferPool:
    def __init__(self, allocate: Callable[[int], np.ndarray]):
        self._allocate = allocate
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self, nbytes: int) -> Iterator[np.ndarray]:
        """A buffer of at least ``nbytes`` bytes for the duration of the block."""
        buf = None
        with self._lock:
            # by position, never list.remove: == on arrays compares their contents
            fits = [i for i, b in enumerate(self._free) if b.nbytes >= nbytes]
            if fits:
                buf = self._free.pop(min(fits, key=lambda i: self._free[i].nbytes))
            elif self._free:  # a buffer too small for this batch would only sit idle
                sizes = [b.nbytes for b in self._free]
                self._free.pop(sizes.index(min(sizes)))
        if buf is None:
            buf = self._allocate(max(_ROUND, -(-nbytes // _ROUND) * _ROUND))
        try:
            yield buf
        finally:
            with self._lock:
                self._free.append(buf)

    def __len__(self) -> int:
        return len(self._free)


host_pool = BufferPool(aligned_empty)
