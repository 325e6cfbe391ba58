"""The C functions the compiled loops call, declared once by symbol name.

Declared as numba external functions (bound by name when the machine code is loaded),
not as ctypes function pointers (whose addresses numba bakes into the code), so every
kernel can be cached on disk (``cache=True``): a phase's worker processes load the
compiled loops in milliseconds instead of compiling them again (seconds per process,
tens of seconds on a busy machine). Pointer arguments are addresses as integers.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import xxhash._xxhash as _xxhash_ext
from numba import types

# the xxhash wheel's extension exports the C library's XXH3_64bits: make its symbols
# visible to the code numba loads
llvm.load_library_permanently(_xxhash_ext.__file__)

_int, _ssize, _size, _ptr = types.intc, types.intp, types.uintp, types.voidptr

openat = types.ExternalFunction("openat", _int(_int, _ptr, _int))
read = types.ExternalFunction("read", _ssize(_int, _ptr, _size))
close = types.ExternalFunction("close", _int(_int))
clock_gettime = types.ExternalFunction("clock_gettime", _int(_int, _ptr))
posix_fadvise = types.ExternalFunction("posix_fadvise", _int(_int, types.int64, types.int64, _int))
# addresses as integers, so a loop can compare mmap's result with MAP_FAILED (-1)
mmap = types.ExternalFunction("mmap", _ssize(_ssize, _size, _int, _int, _int, types.int64))
munmap = types.ExternalFunction("munmap", _int(_ssize, _size))
mincore = types.ExternalFunction("mincore", _int(_ssize, _size, _ptr))
xxh3_64 = types.ExternalFunction("XXH3_64bits", types.uint64(_ptr, _size))
