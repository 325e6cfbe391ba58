"""How filerate opens a file it reads: one set of flags for every reader (the batch
reader, staging, directory sampling)."""

from __future__ import annotations

import os

#: read only; never follow a symlink that replaced a file (O_NOFOLLOW), never block on a
#: FIFO that replaced one (O_NONBLOCK), never leak the descriptor into a child (O_CLOEXEC)
READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
