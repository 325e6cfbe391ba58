"""The per-process buffer pool: reuse, growth, and no sharing between concurrent users."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from filerate.engine import buffers
from filerate.engine.buffers import BufferPool


def _pool():
    made = []

    def allocate(n):
        made.append(n)
        return np.zeros(n, dtype=np.uint8)

    return BufferPool(allocate), made


def test_reuses_a_returned_buffer_that_fits():
    pool, made = _pool()
    with pool.borrow(10) as a:
        pass
    with pool.borrow(100) as b:
        assert b is a
    assert len(made) == 1


def test_concurrent_borrowers_never_share_and_sizes_may_differ():
    pool, made = _pool()
    with pool.borrow(3 << 20) as a, pool.borrow(5 << 20) as b:
        assert a is not b
    # both returned; a smaller and a larger request each get a distinct, fitting buffer
    with pool.borrow(4 << 20) as c, pool.borrow(1 << 20) as d:
        assert c is not d and c.nbytes >= 4 << 20 and d.nbytes >= 1 << 20
    assert len(made) == 2


def test_threads_each_get_their_own_buffer():
    pool, _ = _pool()
    seen, lock, barrier = [], threading.Lock(), threading.Barrier(4)

    def work(size):
        with pool.borrow(size) as buf:
            barrier.wait()  # all four hold a buffer at once
            with lock:
                seen.append(id(buf))

    threads = [threading.Thread(target=work, args=((i + 1) << 20,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 4


@pytest.mark.parametrize("nbytes", [1, 4095, 4096, 1 << 20, 3 << 20])
def test_aligned_empty_starts_on_a_page(nbytes):
    buf = buffers.aligned_empty(nbytes)
    assert buf.ctypes.data % buffers.PAGE == 0
    assert buf.nbytes == nbytes and buf.dtype == np.uint8 and buf.flags.writeable
    buf[-1] = 7  # the whole length is usable


def test_host_pool_hands_out_page_aligned_buffers():
    with buffers.host_pool.borrow(5 << 20) as a, buffers.host_pool.borrow(100) as b:
        assert a.ctypes.data % buffers.PAGE == 0 and b.ctypes.data % buffers.PAGE == 0
