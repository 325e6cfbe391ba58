"""The per-process buffer pool: reuse, growth, and no sharing between concurrent users."""

from __future__ import annotations

import threading

import numpy as np

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
